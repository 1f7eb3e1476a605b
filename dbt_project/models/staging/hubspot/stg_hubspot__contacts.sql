with live as (
    {{ live_latest(source('hubspot', 'contacts'), 'id', '_synced_at desc, updated_at desc', ['archived']) }}
)

select
    cast(id as {{ dbt.type_string() }})                                                  as contact_id,
    nullif(trim(email), '')                                              as email,
    {{ normalize_email('email') }}                                       as email_normalized,
    firstname                                                            as first_name,
    lastname                                                             as last_name,
    coalesce({{ hubspot_timestamp('createdate') }}, created_at)          as created_at,
    {{ hubspot_timestamp('lastmodifieddate') }}                          as last_modified_at,
    {{ normalize_label('lifecyclestage') }}                              as lifecycle_stage,
    {{ hubspot_timestamp('hs_lifecyclestage_lead_date') }}               as lifecyclestage_lead_at,
    {{ hubspot_timestamp('hs_lifecyclestage_marketingqualifiedlead_date') }} as lifecyclestage_mql_at,
    {{ hubspot_timestamp('hs_lifecyclestage_salesqualifiedlead_date') }} as lifecyclestage_sql_at,
    {{ hubspot_timestamp('hs_lifecyclestage_opportunity_date') }}        as lifecyclestage_opportunity_at,
    {{ hubspot_timestamp('hs_lifecyclestage_customer_date') }}           as lifecyclestage_customer_at,
    {{ hubspot_timestamp('hs_v2_date_entered_lead') }}                   as entered_lead_at,
    {{ hubspot_timestamp('hs_v2_date_entered_marketingqualifiedlead') }} as entered_mql_at,
    {{ hubspot_timestamp('hs_v2_date_entered_salesqualifiedlead') }}     as entered_sql_at,
    {{ hubspot_timestamp('hs_v2_date_entered_opportunity') }}            as entered_opportunity_at,
    {{ hubspot_timestamp('hs_v2_date_entered_customer') }}               as entered_customer_at,
    nullif(trim(hs_analytics_source), '')                                as analytics_source,
    nullif(trim(hs_analytics_source_data_1), '')                         as analytics_source_data_1,
    nullif(trim(hs_analytics_source_data_2), '')                         as analytics_source_data_2,
    nullif(trim(hs_analytics_first_url), '')                             as analytics_first_url,
    {{ hubspot_timestamp('hs_analytics_first_timestamp') }}              as analytics_first_at,
    nullif(trim(ga_client_id), '')                                       as ga_client_id,
    nullif(trim(salesforceleadid), '')                                   as salesforce_lead_id,
    nullif(trim(salesforcecontactid), '')                                as salesforce_contact_id,
    nullif(trim(hubspot_owner_id), '')                                   as owner_id,
    nullif(trim(associatedcompanyid), '')                                as company_id,
    nullif(trim(hs_merged_object_ids), '')                               as merged_object_ids,
    _synced_at                                                           as synced_at
from live
