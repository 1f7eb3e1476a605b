with live as (
    {{ live_latest(source('salesforce', 'opportunity'), 'id', '_synced_at desc, system_modstamp desc', ['is_deleted']) }}
)

select
    id                                          as opportunity_id,
    name                                        as opportunity_name,
    account_id,
    stage_name,
    cast(amount as {{ type_double() }})                      as amount,
    probability,
    close_date,
    coalesce(is_closed, false)                  as is_closed,
    coalesce(is_won, false)                     as is_won,
    forecast_category,
    type                                        as opportunity_type,
    lead_source,
    owner_id,
    nullif(upper(trim(currency_iso_code)), '')  as currency_code,
    created_date                                as created_at,
    _synced_at                                  as synced_at
from live
