{#- One row per date x visitor x session UTMs (a *touch* when the visitor id is
    known). GA4 rows are never deleted by the source; _is_deleted is honoured anyway.
    GA dates are days of the property's time zone (stored per date in ga4.report_days):
    session_date is the reporting time zone's date (macro ga_date_to_reporting_date). -#}
with live as (
    {{ live_latest(source('ga4', 'visitor_sessions'), 'row_key', '_synced_at desc') }}
),

zones as (
    select report_date, property_time_zone
    from {{ ref('stg_ga4__report_days') }}
    where report_name = 'visitor_sessions'
)

select
    l.row_key,
    {{ ga_date_to_reporting_date('l.date', 'z.property_time_zone') }} as session_date,
    l.date                          as ga_date,
    z.property_time_zone,
    l.visitor_id,
    l.session_source,
    l.session_medium,
    l.session_campaign_name,
    l.session_manual_ad_content,
    l.session_manual_term,
    coalesce(l.sessions, 0)         as sessions,
    coalesce(l.engaged_sessions, 0) as engaged_sessions,
    coalesce(l.key_events, 0)       as key_events,
    l._synced_at                    as synced_at
from live as l
left join zones as z
    on z.report_date = l.date
