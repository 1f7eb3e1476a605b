{#- Per quarter, across reps with a quota: correlation of attainment with the rep's own
    advocacy sessions. p_value = the Pearson p-value (Python model); statistics are null with a
    stat_note when fewer than min_n_for_stats reps. -#}
{%- set min_n = var('min_n_for_stats', 30) | int -%}
select
    cast(c.period_grain as {{ dbt.type_string() }})                                                  as period_grain,
    cast(c.period_start as date)                                                     as period_start,
    cast(c.n_reps as bigint)                                                         as n_reps,
    cast(c.n_advocate_reps as bigint)                                                as n_advocate_reps,
    cast(case when c.n_reps >= {{ min_n }} then c.pearson_r end as {{ type_double() }})           as pearson_r,
    cast(case when c.n_reps >= {{ min_n }} then c.spearman_rho end as {{ type_double() }})        as spearman_rho,
    cast(t.pearson_p_value as {{ type_double() }})                                                as p_value,
    cast(t.spearman_p_value as {{ type_double() }})                                               as spearman_p_value,
    cast(c.mean_attainment_advocates as {{ type_double() }})                                      as mean_attainment_advocates,
    cast(c.mean_attainment_others as {{ type_double() }})                                         as mean_attainment_others,
    cast(t.stat_note as {{ dbt.type_string() }})                                                     as stat_note
from {{ ref('int_quota_advocacy_correlation') }} as c
left join {{ ref('quota_advocacy_correlation_tests') }} as t
    on t.period_grain = c.period_grain and t.period_start = c.period_start
