with live as (
    {{ live_latest(source('ga4', 'traffic_daily'), 'row_key', '_synced_at desc') }}
)

select
    row_key,
    date                          as session_date,
    session_source,
    session_medium,
    session_campaign_name,
    session_manual_ad_content,
    coalesce(sessions, 0)         as sessions,
    coalesce(engaged_sessions, 0) as engaged_sessions,
    coalesce(key_events, 0)       as key_events,
    coalesce(total_users, 0)      as total_users,
    _synced_at                    as synced_at
from live
