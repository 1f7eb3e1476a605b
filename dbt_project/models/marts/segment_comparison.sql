{#- Advocacy vs other per cohort period x stage transition, with the Newcombe interval of the
    difference (SQL macro) and the p-value of the Python model segment_comparison_tests.
    Both are inference about the difference, so both are null together when either segment
    has fewer than min_n_for_stats people at the start of the transition (stat_note says so):
    an interval excluding 0 beside a null p-value would read as a finding the product declines
    to make. -#}
{%- set min_n = var('min_n_for_stats', 30) | int -%}
{%- set big_enough = 'c.advocacy_n >= ' ~ min_n ~ ' and c.other_n >= ' ~ min_n -%}
select
    cast(c.period_grain as {{ dbt.type_string() }})      as period_grain,
    cast(c.period_start as date)         as period_start,
    cast(c.transition as {{ dbt.type_string() }})        as transition,
    cast(c.advocacy_x as bigint)         as advocacy_x,
    cast(c.advocacy_n as bigint)         as advocacy_n,
    cast(c.other_x as bigint)            as other_x,
    cast(c.other_n as bigint)            as other_n,
    cast(c.advocacy_rate as {{ type_double() }})      as advocacy_rate,
    cast(c.other_rate as {{ type_double() }})         as other_rate,
    cast(c.lift as {{ type_double() }})               as lift,
    cast(c.difference as {{ type_double() }})         as difference,
    cast(case when {{ big_enough }} then c.difference_ci_low end as {{ type_double() }})  as difference_ci_low,
    cast(case when {{ big_enough }} then c.difference_ci_high end as {{ type_double() }}) as difference_ci_high,
    cast(t.p_value as {{ type_double() }})            as p_value,
    cast(t.stat_note as {{ dbt.type_string() }})         as stat_note
from {{ ref('int_segment_comparison') }} as c
left join {{ ref('segment_comparison_tests') }} as t
    on t.period_grain = c.period_grain and t.period_start = c.period_start and t.transition = c.transition
