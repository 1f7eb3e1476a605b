with live as (
    {{ live_latest(source('salesforce', 'period'), 'id', '_synced_at desc, system_modstamp desc') }}
)

select
    id          as period_id,
    start_date,
    end_date,
    type        as period_type,
    _synced_at  as synced_at
from live
