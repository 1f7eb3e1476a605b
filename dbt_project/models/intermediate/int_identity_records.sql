{#- Identity, step 1 (DEFINITIONS.md "People"): every live person record - HubSpot contact,
    Salesforce lead, Salesforce contact - created up to as_of, with its CRM links. A lead's
    conversion link (converted_contact_id) counts from its ConvertedDate: a lead converted
    after as_of was not converted yet on as_of. -#}
with hubspot as (
    select
        'hubspot:' || contact_id      as record_key,
        'hubspot'                     as record_type,
        contact_id                    as source_id,
        email_normalized,
        ga_client_id,
        created_at,
        salesforce_lead_id,
        salesforce_contact_id,
        cast(null as {{ dbt.type_string() }})         as converted_contact_id,
        analytics_first_url,
        cast(null as {{ dbt.type_string() }})         as utm_source,
        cast(null as {{ dbt.type_string() }})         as utm_medium,
        cast(null as {{ dbt.type_string() }})         as utm_campaign,
        cast(null as {{ dbt.type_string() }})         as utm_content,
        cast(null as {{ dbt.type_string() }})         as utm_term
    from {{ ref('stg_hubspot__contacts') }}
),

sf_leads as (
    select
        'sf_lead:' || lead_id, 'sf_lead', lead_id, email_normalized, ga_client_id, created_at,
        cast(null as {{ dbt.type_string() }}), cast(null as {{ dbt.type_string() }}),
        case when converted_date is null or converted_date <= {{ as_of_date() }}
             then converted_contact_id end,
        cast(null as {{ dbt.type_string() }}), utm_source, utm_medium, utm_campaign, utm_content, utm_term
    from {{ ref('stg_salesforce__leads') }}
),

sf_contacts as (
    select
        'sf_contact:' || contact_id, 'sf_contact', contact_id, email_normalized, ga_client_id, created_at,
        cast(null as {{ dbt.type_string() }}), cast(null as {{ dbt.type_string() }}), cast(null as {{ dbt.type_string() }}),
        cast(null as {{ dbt.type_string() }}), utm_source, utm_medium, utm_campaign, utm_content, utm_term
    from {{ ref('stg_salesforce__contacts') }}
)

select * from (
    select * from hubspot
    union all
    select * from sf_leads
    union all
    select * from sf_contacts
) as r
where created_at is not null
  and {{ to_reporting_date('created_at') }} <= {{ as_of_date() }}
