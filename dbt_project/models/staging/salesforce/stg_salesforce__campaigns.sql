with live as (
    {{ live_latest(source('salesforce', 'campaign'), 'id', '_synced_at desc, system_modstamp desc', ['is_deleted']) }}
)

select
    id                          as campaign_id,
    name                        as campaign_name,
    type                        as campaign_type,
    status,
    start_date,
    end_date,
    coalesce(is_active, false)  as is_active,
    owner_id,
    created_date                as created_at,
    _synced_at                  as synced_at
from live
