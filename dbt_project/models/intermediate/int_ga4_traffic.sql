{#- GA4 daily traffic (all sessions, no visitor dimension), classified like touches. The daily
    report has no term dimension, so a rule reading the post id from utm_term yields no post id
    here (network and advocate still classify). Used for web traffic shares and advocacy value. -#}
with src as (
    select
        row_key,
        session_date,
        session_source            as utm_source,
        session_medium            as utm_medium,
        session_campaign_name     as utm_campaign,
        session_manual_ad_content as utm_content,
        cast(null as {{ dbt.type_string() }})     as utm_term,
        sessions,
        engaged_sessions,
        key_events,
        total_users
    from {{ ref('stg_ga4__traffic_daily') }}
    where session_date <= {{ as_of_date() }}
),

{{ classify_utms('src') }}

select
    row_key,
    session_date,
    utm_source,
    utm_medium,
    utm_campaign,
    utm_content,
    norm_source,
    norm_medium,
    segment,
    channel,
    rule_id,
    advocate_id,
    network,
    sessions,
    engaged_sessions,
    key_events,
    total_users
from src_classified
