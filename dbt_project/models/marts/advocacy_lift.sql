{#- The readout of an advocacy programme (seed advocacy_programmes; docs/LIFT.md): a
    difference-in-differences of advocacy against every other channel, per metric (sessions,
    leads, sqls, pipeline), around the programme period and around a placebo period.
    Each phase (pre, post) is cut into 7-day weeks counted from the phase's first day; per week
    r = ln((advocacy + c) / (other + c)), c = half an average event of the metric (0.5 for
    counts; pipeline: half the average opportunity amount) so a week without advocacy is not
    minus infinity. lift = exp(mean r post - mean r pre) - 1: how much advocacy grew relative
    to the other channels; 95 % interval from the weekly spread (normal, Welch standard error).
    comparison 'programme': pre = [pre_start_date, start_date), post = [start_date, end_date];
    'placebo': pre = [pre_start_date, placebo_start_date), post = [placebo_start_date,
    placebo_end_date] - a period without the programme, which should show no lift.
    Everything is cut at as_of. -#}
{%- set z = _z95() -%}
with programmes as (
    select * from {{ ref('advocacy_programmes') }}
),

events as (
    select 'sessions' as metric, session_date as event_date, segment,
           cast(sessions as {{ type_double() }}) as value, sessions as n_events
    from {{ ref('int_ga4_traffic') }}
    union all
    select 'leads', lead_date, segment, 1.0, 1
    from {{ ref('int_person_segments') }}
    union all
    select 'sqls', st.sql_date, s.segment, 1.0, 1
    from {{ ref('int_person_stages') }} as st
    inner join {{ ref('int_person_segments') }} as s on s.person_key = st.person_key
    where st.sql_date is not null
    union all
    select 'pipeline', created_date, sourced_segment, cast(amount as {{ type_double() }}), 1
    from {{ ref('int_opportunity_summary') }}
    where sourced_segment in ('advocacy', 'other')
),

windows as (
    select programme, 'programme' as comparison, 'pre' as phase,
           pre_start_date as phase_start, cast({{ dbt.dateadd('day', -1, 'start_date') }} as date) as phase_end
    from programmes
    union all
    select programme, 'programme', 'post', start_date, end_date from programmes
    union all
    select programme, 'placebo', 'pre', pre_start_date,
           cast({{ dbt.dateadd('day', -1, 'placebo_start_date') }} as date)
    from programmes where placebo_start_date is not null
    union all
    select programme, 'placebo', 'post', placebo_start_date, placebo_end_date
    from programmes where placebo_start_date is not null
),

cut as (
    select programme, comparison, phase, phase_start,
           case when phase_end > {{ as_of_date() }} then {{ as_of_date() }} else phase_end end as phase_end
    from windows
    where phase_start <= {{ as_of_date() }}
),

weeks as (
    select c.*, cast(s.generated_number - 1 as integer) as week
    from cut as c
    cross join ({{ dbt.generate_series(160) }}) as s
    where (s.generated_number - 1) * 7 <= {{ days_between('c.phase_start', 'c.phase_end') }}
),

metrics as (
    select 'sessions' as metric union all select 'leads' union all select 'sqls' union all select 'pipeline'
),

half_event as (
    select
        w.programme, w.comparison, e.metric,
        0.5 * sum(e.value) / nullif(sum(e.n_events), 0) as c
    from (select distinct programme, comparison, min(phase_start) over (partition by programme, comparison) as lo,
                 max(phase_end) over (partition by programme, comparison) as hi from cut) as w
    inner join events as e on e.event_date between w.lo and w.hi
    group by 1, 2, 3
),

weekly_events as (
    select
        c.programme, c.comparison, c.phase, e.metric,
        cast(floor({{ days_between('c.phase_start', 'e.event_date') }} / 7.0) as integer) as week,
        sum(case when e.segment = 'advocacy' then e.value else 0 end) as advocacy,
        sum(case when e.segment = 'other' then e.value else 0 end)    as other
    from cut as c
    inner join events as e on e.event_date between c.phase_start and c.phase_end
    group by 1, 2, 3, 4, 5
),

weekly as (
    select
        w.programme, w.comparison, w.phase, w.week, m.metric,
        coalesce(x.advocacy, 0) as advocacy,
        coalesce(x.other, 0)    as other
    from weeks as w
    cross join metrics as m
    left join weekly_events as x
        on x.programme = w.programme and x.comparison = w.comparison and x.phase = w.phase
       and x.metric = m.metric and x.week = w.week
),

logs as (
    select k.*, ln((k.advocacy + h.c) / (k.other + h.c)) as r
    from weekly as k
    inner join half_event as h
        on h.programme = k.programme and h.comparison = k.comparison and h.metric = k.metric
),

phases as (
    select
        programme, comparison, metric, phase,
        count(*) as weeks, avg(r) as mean_r, var_samp(r) as var_r,
        sum(advocacy) as advocacy, sum(other) as other
    from logs
    group by 1, 2, 3, 4
),

did as (
    select
        a.programme, a.comparison, a.metric,
        a.weeks as weeks_pre, b.weeks as weeks_post,
        a.advocacy as advocacy_pre, a.other as other_pre,
        b.advocacy as advocacy_post, b.other as other_post,
        b.mean_r - a.mean_r as log_lift,
        case when a.weeks >= 2 and b.weeks >= 2 then sqrt(a.var_r / a.weeks + b.var_r / b.weeks) end as se
    from phases as a
    inner join phases as b
        on b.programme = a.programme and b.comparison = a.comparison and b.metric = a.metric
       and b.phase = 'post'
    where a.phase = 'pre'
)

select
    d.programme,
    d.comparison,
    d.metric,
    c_pre.phase_start                                                      as pre_start_date,
    c_pre.phase_end                                                        as pre_end_date,
    c_post.phase_start                                                     as period_start_date,
    c_post.phase_end                                                       as period_end_date,
    d.weeks_pre,
    d.weeks_post,
    d.advocacy_pre,
    d.other_pre,
    d.advocacy_post,
    d.other_post,
    case when d.advocacy_pre + d.other_pre > 0 then d.advocacy_pre / (d.advocacy_pre + d.other_pre) end     as advocacy_share_pre,
    case when d.advocacy_post + d.other_post > 0 then d.advocacy_post / (d.advocacy_post + d.other_post) end as advocacy_share_post,
    exp(d.log_lift) - 1                                                    as lift,
    case when d.se is not null then exp(d.log_lift - {{ z }} * d.se) - 1 end as ci_low,
    case when d.se is not null then exp(d.log_lift + {{ z }} * d.se) - 1 end as ci_high,
    case
        when d.se is null then 'too few weeks'
        when exp(d.log_lift - {{ z }} * d.se) > 1 then 'increase'
        when exp(d.log_lift + {{ z }} * d.se) < 1 then 'decrease'
        else 'no clear change'
    end                                                                    as reading,
    {{ as_of_date() }}                                                     as as_of
from did as d
inner join cut as c_pre
    on c_pre.programme = d.programme and c_pre.comparison = d.comparison and c_pre.phase = 'pre'
inner join cut as c_post
    on c_post.programme = d.programme and c_post.comparison = d.comparison and c_post.phase = 'post'
