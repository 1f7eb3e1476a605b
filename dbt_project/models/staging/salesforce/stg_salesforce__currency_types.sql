with live as (
    {{ live_latest(source('salesforce', 'currency_type'), 'id', '_synced_at desc, system_modstamp desc') }}
)

select
    id                             as currency_type_id,
    upper(trim(iso_code))          as currency_code,
    conversion_rate,
    decimal_places,
    coalesce(is_active, false)     as is_active,
    coalesce(is_corporate, false)  as is_corporate,
    _synced_at                     as synced_at
from live
