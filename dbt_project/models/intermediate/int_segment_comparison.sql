{#- Advocacy vs other per cohort period and stage transition: numerators (x) and
    denominators (n) from funnel_by_segment, rates, lift, difference and its Newcombe 95 %
    interval. p-values come from the Python model segment_comparison_tests (scipy). -#}
with funnel as (
    select * from {{ ref('funnel_by_segment') }}
),

transitions as (
    {%- for name, x, n in [('lead_to_mql', 'mqls', 'leads'), ('mql_to_sql', 'sqls', 'mqls'),
                            ('sql_to_opportunity', 'opportunities', 'sqls'),
                            ('opportunity_to_won', 'won', 'opportunities'), ('lead_to_won', 'won', 'leads')] %}
    select period_grain, period_start, segment, '{{ name }}' as transition, {{ loop.index }} as transition_order,
           {{ x }} as x, {{ n }} as n
    from funnel
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

paired as (
    select
        a.period_grain,
        a.period_start,
        a.transition,
        a.transition_order,
        a.x as advocacy_x,
        a.n as advocacy_n,
        o.x as other_x,
        o.n as other_n
    from transitions as a
    inner join transitions as o
        on o.period_grain = a.period_grain and o.period_start = a.period_start
       and o.transition = a.transition and o.segment = 'other'
    where a.segment = 'advocacy'
)

select
    period_grain,
    period_start,
    transition,
    transition_order,
    advocacy_x,
    advocacy_n,
    other_x,
    other_n,
    {{ safe_divide('advocacy_x', 'advocacy_n') }} as advocacy_rate,
    {{ safe_divide('other_x', 'other_n') }}       as other_rate,
    {{ safe_divide('advocacy_x', 'advocacy_n') }} / nullif({{ safe_divide('other_x', 'other_n') }}, 0) as lift,
    {{ safe_divide('advocacy_x', 'advocacy_n') }} - {{ safe_divide('other_x', 'other_n') }}          as difference,
    case when advocacy_n > 0 and other_n > 0
        then {{ newcombe_interval('advocacy_x', 'advocacy_n', 'other_x', 'other_n', 'low') }} end  as difference_ci_low,
    case when advocacy_n > 0 and other_n > 0
        then {{ newcombe_interval('advocacy_x', 'advocacy_n', 'other_x', 'other_n', 'high') }} end as difference_ci_high
from paired
