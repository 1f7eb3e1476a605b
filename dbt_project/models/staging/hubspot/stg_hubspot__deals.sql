with live as (
    {{ live_latest(source('hubspot', 'deals'), 'id', '_synced_at desc, updated_at desc', ['archived']) }}
)

select
    cast(id as {{ dbt.type_string() }})                                           as deal_id,
    nullif(trim(dealname), '')                                    as deal_name,
    {{ try_cast("nullif(trim(amount), '')", type_double()) }}     as amount,
    nullif(upper(trim(deal_currency_code)), '')                   as currency_code,
    nullif(trim(dealstage), '')                                   as deal_stage,
    nullif(trim(pipeline), '')                                    as pipeline_id,
    {{ hubspot_timestamp('closedate') }}                          as closed_at,
    coalesce({{ hubspot_timestamp('createdate') }}, created_at)   as created_at,
    {{ hubspot_timestamp('hs_lastmodifieddate') }}                as last_modified_at,
    coalesce({{ string_to_boolean('hs_is_closed') }}, false)      as is_closed,
    coalesce({{ string_to_boolean('hs_is_closed_won') }}, false)  as is_closed_won,
    nullif(trim(hubspot_owner_id), '')                            as owner_id,
    nullif(trim(salesforceopportunityid), '')                     as salesforce_opportunity_id,
    _synced_at                                                    as synced_at
from live
