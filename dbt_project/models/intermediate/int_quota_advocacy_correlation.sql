{#- Across reps with a quota, per quarter: Pearson r between attainment and the rep's own
    advocacy activity (own_advocacy_sessions), Spearman rho (Pearson on average ranks, ties
    share their mean rank), and mean attainment of advocate vs other reps. A correlation is
    null, not NaN, when either input is constant (macro correlation). The p-value comes from
    the Python model quota_advocacy_correlation_tests. -#}
with reps as (
    select period_grain, period_start, rep_id, attainment, is_advocate,
           cast(own_advocacy_sessions as {{ type_double() }}) as activity
    from {{ ref('rep_quota_vs_advocacy') }}
    where attainment is not null
),

ranked as (
    select
        reps.*,
        rank() over (partition by period_grain, period_start order by attainment)
            + (count(*) over (partition by period_grain, period_start, attainment) - 1) / 2.0 as attainment_rank,
        rank() over (partition by period_grain, period_start order by activity)
            + (count(*) over (partition by period_grain, period_start, activity) - 1) / 2.0   as activity_rank
    from reps
)

select
    period_grain,
    period_start,
    count(*)                                                             as n_reps,
    sum(case when is_advocate then 1 else 0 end)                         as n_advocate_reps,
    {{ correlation('attainment', 'activity') }}                        as pearson_r,
    {{ correlation('attainment_rank', 'activity_rank') }}              as spearman_rho,
    avg(case when is_advocate then attainment end)                       as mean_attainment_advocates,
    avg(case when not is_advocate then attainment end)                   as mean_attainment_others
from ranked
group by period_grain, period_start
