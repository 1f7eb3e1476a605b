{#- quota_advocacy_correlation_tests where the adapter runs no dbt Python models: the rows and
    notes of ../quota_advocacy_correlation_tests.py; the p-values (t-tests of r and rho) come
    from the post-build step `advocacy stats` (see segment_comparison_tests.sql here). -#}
{%- set min_n = var('min_n_for_stats', 30) | int -%}
{%- set computed = fromjson(env_var('ADVOCACY_COMPUTED_P_VALUES', '{}')).get('quota_advocacy_correlation_tests', []) -%}
with correlation as (
    select * from {{ ref('int_quota_advocacy_correlation') }}
){% if computed %},

computed as (
    {%- for r in computed %}
    select '{{ r.period_grain }}' as period_grain, cast('{{ r.period_start }}' as date) as period_start,
           cast({{ 'null' if r.pearson_p_value is none else r.pearson_p_value }} as {{ type_double() }}) as pearson_p_value,
           cast({{ 'null' if r.spearman_p_value is none else r.spearman_p_value }} as {{ type_double() }}) as spearman_p_value,
           '{{ r.stat_note | replace("'", "''") }}' as stat_note
    {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
){% endif %}

select c.period_grain,
       c.period_start,
       {% if computed %}k.pearson_p_value{% else %}cast(null as {{ type_double() }}){% endif %} as pearson_p_value,
       {% if computed %}k.spearman_p_value{% else %}cast(null as {{ type_double() }}){% endif %} as spearman_p_value,
       case when c.n_reps < {{ min_n }}
            then 'n below min_n_for_stats ({{ min_n }}): n_reps=' || cast(c.n_reps as {{ dbt.type_string() }})
            else {% if computed %}coalesce(k.stat_note, {{ stats_pending_note() }}){% else %}{{ stats_pending_note() }}{% endif %} end as stat_note
from correlation as c
{%- if computed %}
left join computed as k on k.period_grain = c.period_grain and k.period_start = c.period_start
{%- endif %}
