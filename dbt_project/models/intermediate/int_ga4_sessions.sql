{#- Every GA4 per-visitor row up to as_of, UTM-normalised and classified. A row is a person's
    *touch* (is_person_touch) when its visitor id is known; rows without one ('(not set)', '',
    and GA's '(other)' row) still count as sessions (advocate sessions, data quality). -#}
with src as (
    select
        row_key                   as touch_id,
        session_date              as touch_date,
        visitor_id,
        session_source            as utm_source,
        session_medium            as utm_medium,
        session_campaign_name     as utm_campaign,
        session_manual_ad_content as utm_content,
        session_manual_term       as utm_term,
        sessions,
        engaged_sessions,
        key_events
    from {{ ref('stg_ga4__visitor_sessions') }}
    where session_date <= {{ as_of_date() }}
),

{{ classify_utms('src') }}

select
    touch_id,
    touch_date,
    visitor_id,
    case
        when visitor_id is null then false
        when trim(visitor_id) in ('', '(not set)', '(other)') then false
        else true
    end as is_person_touch,
    utm_source,
    utm_medium,
    utm_campaign,
    utm_content,
    utm_term,
    norm_source,
    norm_medium,
    norm_campaign,
    norm_content,
    norm_term,
    segment,
    channel,
    rule_id,
    advocate_id,
    post_id,
    network,
    sessions,
    engaged_sessions,
    key_events
from src_classified
