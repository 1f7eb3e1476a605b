{#- segment_comparison_tests where the adapter runs no dbt Python models (Postgres, Spark in
    session mode): the rows and notes of ../segment_comparison_tests.py. The p-values (Fisher's
    exact test, the z-test) come from the post-build step `advocacy stats` (pipelines/stats.py),
    which computes them with the Python model's own functions and rebuilds this model and its
    marts with them (env var ADVOCACY_COMPUTED_P_VALUES); a plain build leaves them null, stat_note saying so. -#}
{%- set min_n = var('min_n_for_stats', 30) | int -%}
{%- set computed = fromjson(env_var('ADVOCACY_COMPUTED_P_VALUES', '{}')).get('segment_comparison_tests', []) -%}
with comparison as (
    select * from {{ ref('int_segment_comparison') }}
){% if computed %},

computed as (
    {%- for r in computed %}
    select '{{ r.period_grain }}' as period_grain, cast('{{ r.period_start }}' as date) as period_start,
           '{{ r.transition }}' as transition,
           cast({{ 'null' if r.p_value is none else r.p_value }} as {{ type_double() }}) as p_value,
           '{{ r.stat_note | replace("'", "''") }}' as stat_note
    {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
){% endif %}

select c.period_grain,
       c.period_start,
       c.transition,
       {% if computed %}k.p_value{% else %}cast(null as {{ type_double() }}){% endif %} as p_value,
       case when c.advocacy_n < {{ min_n }} or c.other_n < {{ min_n }}
            then 'n below min_n_for_stats ({{ min_n }}): advocacy_n='
                 || cast(c.advocacy_n as {{ dbt.type_string() }}) || ', other_n='
                 || cast(c.other_n as {{ dbt.type_string() }})
            else {% if computed %}coalesce(k.stat_note, {{ stats_pending_note() }}){% else %}{{ stats_pending_note() }}{% endif %} end as stat_note
from comparison as c
{%- if computed %}
left join computed as k
    on k.period_grain = c.period_grain and k.period_start = c.period_start and k.transition = c.transition
{%- endif %}
