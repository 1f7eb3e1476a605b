{#- GA dates are days of the property's time zone: session_date is the reporting time zone's
    date (see stg_ga4__visitor_sessions). -#}
with live as (
    {{ live_latest(source('ga4', 'traffic_daily'), 'row_key', '_synced_at desc') }}
),

zones as (
    select report_date, property_time_zone
    from {{ ref('stg_ga4__report_days') }}
    where report_name = 'traffic_daily'
)

select
    l.row_key,
    {{ ga_date_to_reporting_date('l.date', 'z.property_time_zone') }} as session_date,
    l.date                          as ga_date,
    z.property_time_zone,
    l.session_source,
    l.session_medium,
    l.session_campaign_name,
    l.session_manual_ad_content,
    coalesce(l.sessions, 0)         as sessions,
    coalesce(l.engaged_sessions, 0) as engaged_sessions,
    coalesce(l.key_events, 0)       as key_events,
    coalesce(l.total_users, 0)      as total_users,
    l._synced_at                    as synced_at
from live as l
left join zones as z
    on z.report_date = l.date
