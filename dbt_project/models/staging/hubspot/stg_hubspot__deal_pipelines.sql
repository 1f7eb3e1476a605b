with live as (
    {{ live_latest(source('hubspot', 'deal_pipelines'), 'pipeline_id, stage_id', '_synced_at desc', ['archived']) }}
)

select
    pipeline_id,
    pipeline_label,
    stage_id,
    stage_label,
    display_order,
    probability,
    coalesce(is_closed, false) as is_closed,
    _synced_at                 as synced_at
from live
