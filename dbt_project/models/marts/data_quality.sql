{#- Data quality checks, one row per check x source (docs/DEFINITIONS.md): value, threshold,
    status (pass | warn | fail | info) and a detail. ``source_complete`` fails for a source
    whose last sync failed or whose last complete sync is more than 26 hours old: the marts
    then hold part of a night, and the publication keeps the last complete one (pipelines/publish.py). Quarantine counts come from every
    <schema>._quarantine table that exists (macro quarantine_counts). -#}
with people as (
    select
        count(*)                                                             as n_people,
        -- a join, not a correlated EXISTS in the select list (Spark cannot run those)
        sum(case when t.person_key is not null then 1 else 0 end)            as n_matched
    from {{ ref('int_people') }} as p
    left join (
        select distinct person_key from {{ ref('int_touches') }} where touch_source = 'ga4'
    ) as t on t.person_key = p.person_key
),

identity_emails as (
    select
        sum(case when not is_linking then 1 else 0 end)                     as n_skipped,
        sum(case when not is_linking then n_records else 0 end)             as n_records
    from {{ ref('int_identity_emails') }}
),

identity_skip_reasons as (
    select skip_reason || ' ' || cast(count(*) as {{ dbt.type_string() }}) as label,
           row_number() over (order by count(*) desc, skip_reason) as pick
    from {{ ref('int_identity_emails') }}
    where not is_linking
    group by skip_reason
),

identity_groups as (
    select max(group_records) as largest, count(distinct root_record_key) as n_groups
    from {{ ref('int_identity_components') }}
),

bases as (
    select segment_basis, count(*) as n from {{ ref('int_person_segments') }} group by segment_basis
),

quarantine as (
    {{ quarantine_counts() }}
),

repaired as (
    {{ repaired_counts() }}
),

hidden_fields as (
    {{ hidden_field_rows() }}
),

{#- Impossible dates (macro impossible_dates): counted here, left out of cycle lengths. -#}
impossible_dates as (
    select count(*) as n, min(opportunity_id) as example
    from {{ ref('int_opportunities') }}
    where {{ impossible_dates('created_date', 'close_date') }}
),

{#- HubSpot lifecycle dates that are set but do not parse (staging reads them as null, so the
    stage would go undated without a word). -#}
{%- set lifecycle_dates = [] %}
{%- for stage in ['lead', 'marketingqualifiedlead', 'salesqualifiedlead', 'opportunity', 'customer'] %}
{%- do lifecycle_dates.append('hs_lifecyclestage_' ~ stage ~ '_date') %}
{%- do lifecycle_dates.append('hs_v2_date_entered_' ~ stage) %}
{%- endfor %}
unparsable_lifecycle_dates as (
    select count(*) as n, min(cast(id as {{ dbt.type_string() }})) as example
    from {{ source('hubspot', 'contacts') }}
    where not coalesce(_is_deleted, false) and not coalesce(archived, false)
      and (
      {%- for col in lifecycle_dates %}
          (nullif(trim({{ col }}), '') is not null and {{ hubspot_timestamp(col) }} is null)
          {%- if not loop.last %} or{% endif %}
      {%- endfor %}
      )

),

{#- HubSpot close dates that are set but do not parse: the deal would go undated (won on no
    day, so in no won revenue; no cycle length) without a word. -#}
unparsable_deal_dates as (
    select count(*) as n, min(cast(id as {{ dbt.type_string() }})) as example
    from {{ source('hubspot', 'deals') }}
    where not coalesce(_is_deleted, false) and not coalesce(archived, false)
      and nullif(trim(closedate), '') is not null and {{ hubspot_timestamp('closedate') }} is null
),

source_status as (
    {{ source_status_rows() }}
),

unknown_currency as (
    select count(*) as n, min(currency_code) as example
    from {{ ref('int_opportunities') }}
    where not is_currency_known
),

unknown_currency_quotas as (
    select count(*) as n, min(currency_code) as example
    from {{ ref('int_quota_rows') }}
    where not is_currency_known
      and user_id is not null
),

unmatched_seed_quotas as (
    select count(*) as n, min(row_id) as example
    from {{ ref('int_quota_rows') }}
    where quota_source = 'rep_quotas_seed'
      and user_id is null
),

unknown_currency_values as (
    select count(*) as n, min(value_currency) as example
    from {{ ref('int_advocacy_post_values') }}
    where not is_currency_known
),

unclassified as (
    select norm_source, norm_medium, sum(sessions) as sessions, count(*) as n_rows
    from {{ ref('int_ga4_sessions') }}
    where channel = 'unclassified'
      and not (norm_source = '(other)' and norm_medium = '(other)')  -- GA's collapsed row: see ga4_other_row_loss
    group by norm_source, norm_medium
),

unclassified_top as (
    select norm_source || ' / ' || norm_medium || ' (' || cast(sessions as {{ dbt.type_string() }}) || ' sessions)' as label,
           row_number() over (order by sessions desc, norm_source, norm_medium) as pick
    from unclassified
),

ga_loss as (
    select
        sum(other_row_sessions)                                        as other_row_sessions,
        sum(case when has_other_row_loss then 1 else 0 end)            as days_with_loss,
        count(*)                                                       as days
    from {{ ref('stg_ga4__report_days') }}
    where report_name = 'visitor_sessions'
      and report_date <= {{ as_of_date() }}  -- the days the sessions below count (nothing after as_of)
),

{#- Per GA date: what the per-visitor report lost against the traffic report (no visitor
    dimension: all sessions, rarely thresholded or collapsed): its (other) row and the rows GA
    withheld under thresholds. -#}
ga_days as (
    select
        t.report_date,
        t.sessions                                                          as traffic_sessions,
        coalesce(v.sessions, 0) - coalesce(v.other_row_sessions, 0)         as kept_sessions,
        coalesce(v.is_subject_to_thresholding, false)                       as is_thresholded,
        v.samples_read_count is not null or t.samples_read_count is not null as is_sampled
    from {{ ref('stg_ga4__report_days') }} as t
    left join {{ ref('stg_ga4__report_days') }} as v
        on v.report_date = t.report_date and v.report_name = 'visitor_sessions'
    where t.report_name = 'traffic_daily'
      and t.report_date <= {{ as_of_date() }}  -- as ga_loss: nothing after as_of
),

ga_visitor_loss as (
    select
        sum(traffic_sessions)                                                     as traffic_sessions,
        sum(case when traffic_sessions > kept_sessions then traffic_sessions - kept_sessions else 0 end) as lost_sessions,
        sum(case when is_thresholded then 1 else 0 end)                           as thresholded_days,
        sum(case when is_sampled then 1 else 0 end)                               as sampled_days,
        count(*)                                                                  as days
    from ga_days
),

ga_sessions as (
    select
        sum(sessions)                                                              as sessions,
        sum(case when trim(visitor_id) = '(not set)' or trim(visitor_id) = '' then sessions else 0 end) as sessions_without_visitor
    from {{ ref('int_ga4_sessions') }}
),

freshness as (
    {%- set tables = [('hubspot', 'contacts'), ('hubspot', 'deals'), ('salesforce', 'lead'),
                      ('salesforce', 'opportunity'), ('ga4', 'visitor_sessions'), ('advocacy_platform', 'posts')] %}
    {%- for s, t in tables %}
    select '{{ s }}' as source, '{{ t }}' as object, max(_synced_at) as last_synced_at, count(*) as n_rows
    from {{ source(s, t) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

deleted as (
    {%- set del_tables = [('hubspot', 'contacts'), ('hubspot', 'deals'), ('salesforce', 'lead'),
                          ('salesforce', 'contact'), ('salesforce', 'opportunity')] %}
    {%- for s, t in del_tables %}
    select '{{ s }}' as source, '{{ t }}' as object, sum(case when _is_deleted then 1 else 0 end) as n
    from {{ source(s, t) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

checks as (
    select 'identity_match_rate' as check_name, 'crm' as source,
           cast({{ safe_divide('n_matched', 'n_people') }} as {{ type_double() }}) as value, 0.5 as threshold,
           case when {{ safe_divide('n_matched', 'n_people') }} >= 0.5 then 'pass' else 'warn' end as status,
           'people with at least one GA4 touch: ' || cast(n_matched as {{ dbt.type_string() }}) || ' of ' || cast(n_people as {{ dbt.type_string() }}) as detail
    from people

    union all
    select 'identity_emails_skipped', 'crm', cast(coalesce(n_skipped, 0) as {{ type_double() }}),
           cast(null as {{ type_double() }}), 'info',
           'emails that link no records (records carrying them: ' || cast(coalesce(n_records, 0) as {{ dbt.type_string() }})
           || '): ' || coalesce((select {{ dbt.listagg('label', "'; '", 'order by pick') }} from identity_skip_reasons), 'none')
    from identity_emails

    union all
    select 'identity_largest_group', 'crm', cast(coalesce(largest, 0) as {{ type_double() }}),
           cast({{ var('identity_max_records_per_email', 10) | int }} as {{ type_double() }}),
           case when coalesce(largest, 0) <= {{ var('identity_max_records_per_email', 10) | int }} then 'pass' else 'warn' end,
           'person records in the largest identity group (groups: ' || cast(coalesce(n_groups, 0) as {{ dbt.type_string() }}) || ')'
    from identity_groups

    union all
    select 'people_by_segment_basis', 'crm', cast(n as {{ type_double() }}), cast(null as {{ type_double() }}), 'info',
           'segment_basis = ' || segment_basis
    from bases

    union all
    select 'quarantined_rows', source, cast(n as {{ type_double() }}), 0.0,
           case when n > 0 then 'warn' else 'pass' end, 'reason: ' || reason
    from quarantine

    union all
    select 'repaired_rows', source, cast(n as {{ type_double() }}), cast(null as {{ type_double() }}), 'info',
           'kept after repair: ' || reason
    from repaired

    union all
    select 'hidden_fields', 'salesforce', cast(count(*) as {{ type_double() }}), 0.0,
           case when count(*) > 0 then 'warn' else 'pass' end,
           case when count(*) > 0
                then 'fields hidden from the integration user by field-level security, synced as empty: '
                     || {{ dbt.listagg("object || '.' || field", "', '", "order by object, field") }}
                else 'none' end
    from hidden_fields

    union all
    select 'impossible_opportunity_dates', 'crm', cast(n as {{ type_double() }}), 0.0,
           case when n > 0 then 'warn' else 'pass' end,
           case when n > 0 then 'closed before created or dated before 1970, left out of median_cycle_days, e.g. '
                                || example else 'none' end
    from impossible_dates

    union all
    select 'unparsable_lifecycle_dates', 'hubspot', cast(n as {{ type_double() }}), 0.0,
           case when n > 0 then 'warn' else 'pass' end,
           case when n > 0 then 'contacts with a lifecycle date that does not parse (the stage is not dated by it), e.g. '
                                || example else 'none' end
    from unparsable_lifecycle_dates

    union all
    select 'unparsable_deal_dates', 'hubspot', cast(n as {{ type_double() }}), 0.0,
           case when n > 0 then 'warn' else 'pass' end,
           case when n > 0 then 'deals with a close date that does not parse (not won or lost on any day, no cycle length), e.g. '
                                || example else 'none' end
    from unparsable_deal_dates

    union all
    select 'unknown_currency_opportunities', 'crm', cast(n as {{ type_double() }}), 0.0,
           case when n > 0 then 'warn' else 'pass' end,
           case when n > 0 then 'excluded from every mart, e.g. ' || example else 'none' end
    from unknown_currency

    union all
    select 'unknown_currency_quotas', 'quotas', cast(n as {{ type_double() }}), 0.0,
           case when n > 0 then 'warn' else 'pass' end,
           case when n > 0 then 'quota rows left out of quota_amount (attainment), e.g. ' || example else 'none' end
    from unknown_currency_quotas

    union all
    select 'unmatched_seed_quotas', 'quotas', cast(n as {{ type_double() }}), 0.0,
           case when n > 0 then 'warn' else 'pass' end,
           case when n > 0 then 'rep_quotas seed rows whose rep_email matches no Salesforce user, left out of every quota, e.g. '
                                || example else 'none' end
    from unmatched_seed_quotas

    union all
    select 'unknown_currency_values', 'advocacy_platform', cast(n as {{ type_double() }}), 0.0,
           case when n > 0 then 'warn' else 'pass' end,
           case when n > 0 then 'posts whose network_values currency has no rate to the reporting currency, left out of advocacy_value money, e.g. '
                                || example else 'none' end
    from unknown_currency_values

    union all
    select 'unclassified_utms', 'ga4', cast(count(*) as {{ type_double() }}), 0.0,
           case when count(*) > 0 then 'warn' else 'pass' end,
           coalesce((select {{ dbt.listagg('label', "'; '", 'order by pick') }} from unclassified_top where pick <= 5), 'none')
    from unclassified

    union all
    select 'ga4_other_row_loss', 'ga4',
           cast({{ safe_divide('l.other_row_sessions', 's.sessions') }} as {{ type_double() }}), 0.05,
           case when coalesce({{ safe_divide('l.other_row_sessions', 's.sessions') }}, 0) <= 0.05 then 'pass' else 'warn' end,
           'sessions in GA ''(other)'' rows of the per-visitor report: ' || cast(coalesce(l.other_row_sessions, 0) as {{ dbt.type_string() }})
           || '; days with loss: ' || cast(coalesce(l.days_with_loss, 0) as {{ dbt.type_string() }}) || ' of ' || cast(coalesce(l.days, 0) as {{ dbt.type_string() }})
    from ga_loss as l cross join ga_sessions as s

    union all
    select 'ga4_visitor_report_loss', 'ga4',
           cast({{ safe_divide('lost_sessions', 'traffic_sessions') }} as {{ type_double() }}),
           {{ var('ga4_max_loss_share', 0.05) }},
           case when coalesce({{ safe_divide('lost_sessions', 'traffic_sessions') }}, 0) <= {{ var('ga4_max_loss_share', 0.05) }}
                then 'pass' else 'warn' end,
           'sessions of the traffic report missing from the per-visitor report ((other) rows, thresholds): '
           || cast(coalesce(lost_sessions, 0) as {{ dbt.type_string() }}) || ' of ' || cast(coalesce(traffic_sessions, 0) as {{ dbt.type_string() }})
    from ga_visitor_loss

    union all
    select 'ga4_thresholded_days', 'ga4', cast(coalesce(thresholded_days, 0) as {{ type_double() }}), 0.0,
           case when coalesce(thresholded_days, 0) > 0 then 'warn' else 'pass' end,
           'days GA said the per-visitor report was subject to thresholding (rows with few users withheld): '
           || cast(coalesce(thresholded_days, 0) as {{ dbt.type_string() }}) || ' of ' || cast(coalesce(days, 0) as {{ dbt.type_string() }})
    from ga_visitor_loss

    union all
    select 'ga4_sampled_days', 'ga4', cast(coalesce(sampled_days, 0) as {{ type_double() }}), 0.0,
           case when coalesce(sampled_days, 0) > 0 then 'warn' else 'pass' end,
           'days GA answered from a sample: ' || cast(coalesce(sampled_days, 0) as {{ dbt.type_string() }})
           || ' of ' || cast(coalesce(days, 0) as {{ dbt.type_string() }})
    from ga_visitor_loss

    union all
    select 'ga4_sessions_without_visitor_id', 'ga4',
           cast({{ safe_divide('sessions_without_visitor', 'sessions') }} as {{ type_double() }}), 0.1,
           case when coalesce({{ safe_divide('sessions_without_visitor', 'sessions') }}, 0) <= 0.1 then 'pass' else 'warn' end,
           'sessions whose events lacked the visitor dimension: ' || cast(coalesce(sessions_without_visitor, 0) as {{ dbt.type_string() }})
    from ga_sessions

    union all
    select 'freshness_hours', source || '.' || object,
           cast({{ dbt.datediff('last_synced_at', utc_now(), 'minute') }} / 60.0 as {{ type_double() }}), 26.0,
           case when last_synced_at is null then 'warn'
                when {{ dbt.datediff('last_synced_at', utc_now(), 'minute') }} / 60.0 <= 26 then 'pass'
                else 'warn' end,
           'last synced at ' || coalesce(cast(last_synced_at as {{ dbt.type_string() }}), 'never') || ' (' || cast(n_rows as {{ dbt.type_string() }}) || ' rows)'
    from freshness

    union all
    select 'source_complete', source,
           cast({{ dbt.datediff('coalesce(failing_since, last_success_at)', utc_now(), 'minute') }} / 60.0 as {{ type_double() }}),
           26.0,
           case when status = 'not_configured' then 'info'
                when status = 'failed' then 'fail'
                when last_success_at is null
                  or {{ dbt.datediff('last_success_at', utc_now(), 'minute') }} / 60.0 > 26 then 'fail'
                else 'pass' end,
           case when status = 'not_configured' then 'not configured: ' || coalesce(detail, '')
                when status = 'failed' then 'missing: last sync failed, failing since '
                     || cast({{ dbt.date_trunc('second', 'failing_since') }} as {{ dbt.type_string() }}) || ' UTC; last complete sync '
                     || coalesce(cast({{ dbt.date_trunc('second', 'last_success_at') }} as {{ dbt.type_string() }}) || ' UTC', 'never') || ': ' || coalesce(detail, '')
                else 'last complete sync ' || cast({{ dbt.date_trunc('second', 'last_success_at') }} as {{ dbt.type_string() }}) || ' UTC' end
    from source_status

    union all
    select 'deleted_records', source || '.' || object, cast(n as {{ type_double() }}), cast(null as {{ type_double() }}), 'info',
           'records deleted/archived at the source, excluded by staging'
    from deleted
)

select
    cast(check_name as {{ dbt.type_string() }}) as {{ adapter.quote('check') }},
    cast(source as {{ dbt.type_string() }})     as source,
    cast(value as {{ type_double() }})       as value,
    cast(threshold as {{ type_double() }})   as threshold,
    cast(status as {{ dbt.type_string() }})     as status,
    cast(detail as {{ dbt.type_string() }})     as detail
from checks
