with live as (
    {{ live_latest(source('salesforce', 'dated_conversion_rate'), 'id', '_synced_at desc, system_modstamp desc') }}
)

select
    id                     as dated_conversion_rate_id,
    upper(trim(iso_code))  as currency_code,
    conversion_rate,
    start_date,
    next_start_date,
    _synced_at             as synced_at
from live
