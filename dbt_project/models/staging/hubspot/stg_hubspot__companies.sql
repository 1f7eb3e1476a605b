with live as (
    {{ live_latest(source('hubspot', 'companies'), 'id', '_synced_at desc, updated_at desc', ['archived']) }}
)

select
    cast(id as {{ dbt.type_string() }})                                         as company_id,
    nullif(trim(name), '')                                      as company_name,
    nullif(lower(trim(domain)), '')                             as domain,
    nullif(trim(country), '')                                   as country,
    nullif(trim(industry), '')                                  as industry,
    {{ try_cast("nullif(trim(numberofemployees), '')", dbt.type_bigint()) }} as number_of_employees,
    coalesce({{ hubspot_timestamp('createdate') }}, created_at) as created_at,
    {{ hubspot_timestamp('hs_lastmodifieddate') }}              as last_modified_at,
    nullif(trim(hubspot_owner_id), '')                          as owner_id,
    nullif(trim(salesforceaccountid), '')                       as salesforce_account_id,
    _synced_at                                                  as synced_at
from live
