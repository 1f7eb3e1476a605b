{#- Every GA4 per-visitor row up to as_of, UTM-normalised and classified. A row is a person's
    *touch* (is_person_touch) when its visitor id is known; rows without one ('(not set)', '',
    and GA's '(other)' row) still count as sessions (advocate sessions, data quality).

    Incremental (macros/logic/incremental_window.sql): a nightly build rebuilds only the GA
    dates the connector (re)wrote since the last build — the new day and the re-read window
    (GA4_REREAD_DAYS), a backfill's dates — plus the last stored day; a change of a
    classification seed (or of reporting_timezone, ga4_property_timezone, this model's SQL)
    rebuilds every row. An incremental build equals a full refresh
    (tests/dbt/test_incremental_models.py). On Spark (no DELETE on Parquet) a table rebuilt in
    full each run: macro ga_materialization. -#}
{{ config(
    materialized=ga_materialization(),
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    post_hook="{{ ga_incremental_delete(classification_fingerprint(), 'visitor_sessions') }}"
) }}
{%- set fingerprint = classification_fingerprint() -%}
{%- set state = ga_incremental_state(fingerprint) %}

with src as (
    select
        row_key                   as touch_id,
        session_date              as touch_date,
        ga_date,
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
      and {{ ga_incremental_filter(state, 'ga_date', 'visitor_sessions') }}
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
    key_events,
    ga_date,
    (select max(synced_at) from {{ ref('stg_ga4__report_days') }}
     where report_name = 'visitor_sessions')                   as built_through,
    '{{ fingerprint }}'                                        as classified_with,
    '{{ invocation_id }}'                                      as built_by
from src_classified
