{#- One row per date x visitor x session UTMs x landing page (a *touch* when the visitor id is
    known). GA4 rows are never deleted by the source; _is_deleted is honoured anyway. -#}
with live as (
    {{ live_latest(source('ga4', 'visitor_sessions'), 'row_key', '_synced_at desc') }}
)

select
    row_key,
    date                          as session_date,
    visitor_id,
    session_source,
    session_medium,
    session_campaign_name,
    session_manual_ad_content,
    session_manual_term,
    landing_page,
    coalesce(sessions, 0)         as sessions,
    coalesce(engaged_sessions, 0) as engaged_sessions,
    coalesce(key_events, 0)       as key_events,
    _synced_at                    as synced_at
from live
