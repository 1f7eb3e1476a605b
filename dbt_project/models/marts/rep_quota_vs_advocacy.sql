{#- Per fiscal quarter x sales rep (quotas are quarterly, so period_grain is always 'quarter'):
    quota (ForecastingQuota, else the rep_quotas seed) in the reporting currency, won amount
    (won opportunities owned by the rep closing in the quarter), attainment = won / quota
    (null when the quota is 0 or missing), the rep's own advocacy (sessions of advocacy touches
    carrying the rep's advocate id(s) and the leads they sourced) and the pipeline of the rep's
    opportunities created in the quarter that any advocate touched. -#}
with reps as (
    select * from {{ ref('int_reps') }}
),

-- advocate ids compare case-insensitively (int_advocates and the UTM ids are lower-cased)
rep_advocate_ids as (
    select sf_user_id as rep_id, lower(trim(advocate_id)) as advocate_id
    from {{ ref('int_advocates') }}
    where sf_user_id is not null and is_rep_candidate
),

won as (
    select owner_user_id as rep_id, {{ period_start('close_date', 'quarter') }} as period_start,
           sum(amount) as won_amount, count(*) as won_count
    from {{ ref('int_opportunity_summary') }}
    where is_won and owner_user_id is not null
    group by owner_user_id, {{ period_start('close_date', 'quarter') }}
),

influenced as (
    select owner_user_id as rep_id, {{ period_start('created_date', 'quarter') }} as period_start,
           sum(case when is_advocacy_influenced then amount else 0 end) as advocacy_influenced_pipeline,
           sum(amount) as pipeline_amount
    from {{ ref('int_opportunity_summary') }}
    where owner_user_id is not null
    group by owner_user_id, {{ period_start('created_date', 'quarter') }}
),

own_sessions as (
    select r.rep_id, {{ period_start('g.touch_date', 'quarter') }} as period_start,
           sum(g.sessions) as own_advocacy_sessions
    from {{ ref('int_ga4_sessions') }} as g
    inner join rep_advocate_ids as r on r.advocate_id = lower(trim(g.advocate_id))
    where g.segment = 'advocacy'
    group by r.rep_id, {{ period_start('g.touch_date', 'quarter') }}
),

own_leads as (
    select r.rep_id, {{ period_start('s.lead_date', 'quarter') }} as period_start,
           count(*) as own_advocacy_leads
    from {{ ref('int_person_segments') }} as s
    inner join rep_advocate_ids as r on r.advocate_id = lower(trim(s.sourcing_advocate_id))
    where s.segment = 'advocacy'
    group by r.rep_id, {{ period_start('s.lead_date', 'quarter') }}
),

grid as (
    select user_id as rep_id, period_start from {{ ref('int_rep_quotas') }}
    union
    select rep_id, period_start from won
    union
    select rep_id, period_start from influenced
    union
    select rep_id, period_start from own_sessions
    union
    select rep_id, period_start from own_leads
)

select
    cast('quarter' as {{ dbt.type_string() }})                                   as period_grain,
    cast(g.period_start as date)                                 as period_start,
    cast(r.rep_id as {{ dbt.type_string() }})                                    as rep_id,
    cast(r.rep_name as {{ dbt.type_string() }})                                  as rep_name,
    cast(q.quota_amount as {{ type_double() }})                               as quota_amount,
    cast(q.quota_source as {{ dbt.type_string() }})                              as quota_source,
    cast(coalesce(w.won_amount, 0) as {{ type_double() }})                    as won_amount,
    cast(coalesce(w.won_count, 0) as bigint)                     as won_count,
    cast(case when q.quota_amount > 0 then coalesce(w.won_amount, 0) / q.quota_amount end as {{ type_double() }}) as attainment,
    cast(r.is_advocate as boolean)                               as is_advocate,
    cast(coalesce(s.own_advocacy_sessions, 0) as bigint)         as own_advocacy_sessions,
    cast(coalesce(l.own_advocacy_leads, 0) as bigint)            as own_advocacy_leads,
    cast(coalesce(i.pipeline_amount, 0) as {{ type_double() }})               as pipeline_amount,
    cast(coalesce(i.advocacy_influenced_pipeline, 0) as {{ type_double() }})  as advocacy_influenced_pipeline
from grid as g
inner join reps as r on r.rep_id = g.rep_id
left join {{ ref('int_rep_quotas') }} as q on q.user_id = g.rep_id and q.period_start = g.period_start
left join won as w on w.rep_id = g.rep_id and w.period_start = g.period_start
left join influenced as i on i.rep_id = g.rep_id and i.period_start = g.period_start
left join own_sessions as s on s.rep_id = g.rep_id and s.period_start = g.period_start
left join own_leads as l on l.rep_id = g.rep_id and l.period_start = g.period_start
where g.period_start <= {{ as_of_date() }}
