with live as (
    {{ live_latest(source('salesforce', 'opportunity_history'), 'id', '_synced_at desc', ['is_deleted']) }}
)

select
    id                     as opportunity_history_id,
    opportunity_id,
    stage_name,
    cast(amount as {{ type_double() }}) as amount,
    close_date,
    probability,
    forecast_category,
    created_by_id,
    created_date           as created_at,
    _synced_at             as synced_at
from live
