with live as (
    {{ live_latest(source('salesforce', 'lead_history'), 'id', '_synced_at desc', ['is_deleted']) }}
)

select
    id              as lead_history_id,
    lead_id,
    field,
    old_value,
    new_value,
    data_type,
    created_by_id,
    created_date    as created_at,
    _synced_at      as synced_at
from live
