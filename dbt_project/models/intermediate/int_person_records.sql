{#- Identity (DEFINITIONS.md "People"): every live person record (HubSpot contact, Salesforce
    lead, Salesforce contact) created up to as_of, and the person it belongs to.

    Union-find over the link edges, done in SQL as connected components by min-label
    propagation over a recursive CTE (portable: Postgres, Snowflake, DuckDB...):
      * HubSpot salesforceleadid -> that lead; HubSpot salesforcecontactid -> that contact;
      * Salesforce lead converted_contact_id -> that contact;
      * same normalised email (trimmed, lower-cased, non-empty): each record -> the smallest
        record of that email (a star: the same components as all pairs, fewer edges).
    Edges only join records that exist here (live, created by as_of): a link to a deleted or
    unknown record is ignored, so it cannot merge two people through a phantom node.
    person_key = md5 of the smallest member id written as hubspot:<id> / sf_lead:<id> / sf_contact:<id>. -#}
with recursive

hubspot as (
    select
        'hubspot:' || contact_id      as record_key,
        'hubspot'                     as record_type,
        contact_id                    as source_id,
        email_normalized,
        ga_client_id,
        created_at,
        salesforce_lead_id,
        salesforce_contact_id,
        cast(null as varchar)         as converted_contact_id,
        analytics_first_url,
        cast(null as varchar)         as utm_source,
        cast(null as varchar)         as utm_medium,
        cast(null as varchar)         as utm_campaign,
        cast(null as varchar)         as utm_content,
        cast(null as varchar)         as utm_term
    from {{ ref('stg_hubspot__contacts') }}
),

sf_leads as (
    select
        'sf_lead:' || lead_id, 'sf_lead', lead_id, email_normalized, ga_client_id, created_at,
        cast(null as varchar), cast(null as varchar), converted_contact_id,
        cast(null as varchar), utm_source, utm_medium, utm_campaign, utm_content, utm_term
    from {{ ref('stg_salesforce__leads') }}
),

sf_contacts as (
    select
        'sf_contact:' || contact_id, 'sf_contact', contact_id, email_normalized, ga_client_id, created_at,
        cast(null as varchar), cast(null as varchar), cast(null as varchar),
        cast(null as varchar), utm_source, utm_medium, utm_campaign, utm_content, utm_term
    from {{ ref('stg_salesforce__contacts') }}
),

records as (
    select * from (
        select * from hubspot
        union all
        select * from sf_leads
        union all
        select * from sf_contacts
    ) as r
    where created_at is not null
      and {{ to_reporting_date('created_at') }} <= {{ as_of_date() }}
),

directed_edges as (
    select record_key as node_a, 'sf_lead:' || salesforce_lead_id as node_b
    from records where salesforce_lead_id is not null
    union all
    select record_key, 'sf_contact:' || salesforce_contact_id
    from records where salesforce_contact_id is not null
    union all
    select record_key, 'sf_contact:' || converted_contact_id
    from records where converted_contact_id is not null
    union all
    select record_key, min(record_key) over (partition by email_normalized)
    from records where email_normalized is not null and email_normalized <> ''
),

edges as (
    select e.node_a, e.node_b
    from directed_edges as e
    inner join records as ra on ra.record_key = e.node_a
    inner join records as rb on rb.record_key = e.node_b
    where e.node_a <> e.node_b
),

undirected as (
    select node_a, node_b from edges
    union
    select node_b, node_a from edges
),

labels (record_key, label) as (
    select record_key, record_key from records
    union
    select u.node_b, l.label
    from labels as l
    inner join undirected as u on u.node_a = l.record_key
),

components as (
    select record_key, min(label) as root_record_key
    from labels
    group by record_key
)

select
    r.record_key,
    r.record_type,
    r.source_id,
    c.root_record_key,
    {{ dbt.hash('c.root_record_key') }}   as person_key,
    r.email_normalized,
    r.ga_client_id,
    r.created_at,
    r.analytics_first_url,
    r.utm_source,
    r.utm_medium,
    r.utm_campaign,
    r.utm_content,
    r.utm_term
from records as r
inner join components as c on c.record_key = r.record_key
