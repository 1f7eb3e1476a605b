{#- Funnel by lead cohort (DEFINITIONS.md "Funnel"): people by the period of their lead date x
    their segment. Every period with any lead gets both segments (zeros included), so segments
    add up to the whole. Rates are ratios of consecutive counts with Wilson 95 % intervals;
    won_amount = reporting-currency amount of won opportunities whose earliest linked lead is
    in the cohort (each opportunity once). -#}
with people as (
    select
        s.person_key,
        s.segment,
        st.lead_date,
        st.mql_date,
        st.sql_date,
        st.opportunity_date,
        st.won_date
    from {{ ref('int_person_segments') }} as s
    inner join {{ ref('int_person_stages') }} as st on st.person_key = s.person_key
    where st.lead_date <= {{ as_of_date() }}
),

people_periods as (
    {{ fan_out_periods('people', 'people.lead_date') }}
),

won_opportunities as (
    select o.opportunity_id, o.amount, p.lead_date, p.segment
    from {{ ref('int_opportunity_summary') }} as o
    inner join {{ ref('int_person_segments') }} as p on p.person_key = o.lead_person_key
    where o.is_won
),

won_periods as (
    {{ fan_out_periods('won_opportunities', 'won_opportunities.lead_date') }}
),

won_totals as (
    select period_grain, period_start, segment, sum(amount) as won_amount
    from won_periods
    group by period_grain, period_start, segment
),

counts as (
    select
        period_grain,
        period_start,
        segment,
        count(*)                   as leads,
        count(mql_date)            as mqls,
        count(sql_date)            as sqls,
        count(opportunity_date)    as opportunities,
        count(won_date)            as won,
        {{ median(days_between('lead_date', 'mql_date')) }}        as median_days_lead_to_mql,
        {{ median(days_between('mql_date', 'sql_date')) }}         as median_days_mql_to_sql,
        {{ median(days_between('sql_date', 'opportunity_date')) }} as median_days_sql_to_opportunity,
        {{ median(days_between('opportunity_date', 'won_date')) }} as median_days_opportunity_to_won
    from people_periods
    group by period_grain, period_start, segment
),

grid as (
    select distinct p.period_grain, p.period_start, s.segment
    from people_periods as p
    cross join (select 'advocacy' as segment union all select 'other') as s
),

joined as (
    select
        g.period_grain,
        g.period_start,
        g.segment,
        coalesce(c.leads, 0)         as leads,
        coalesce(c.mqls, 0)          as mqls,
        coalesce(c.sqls, 0)          as sqls,
        coalesce(c.opportunities, 0) as opportunities,
        coalesce(c.won, 0)           as won,
        coalesce(w.won_amount, 0)    as won_amount,
        c.median_days_lead_to_mql,
        c.median_days_mql_to_sql,
        c.median_days_sql_to_opportunity,
        c.median_days_opportunity_to_won
    from grid as g
    left join counts as c
        on c.period_grain = g.period_grain and c.period_start = g.period_start and c.segment = g.segment
    left join won_totals as w
        on w.period_grain = g.period_grain and w.period_start = g.period_start and w.segment = g.segment
)

select
    cast(period_grain as {{ dbt.type_string() }})                    as period_grain,
    cast(period_start as date)                       as period_start,
    cast(segment as {{ dbt.type_string() }})                         as segment,
    cast(leads as bigint)                            as leads,
    cast(mqls as bigint)                             as mqls,
    cast(sqls as bigint)                             as sqls,
    cast(opportunities as bigint)                    as opportunities,
    cast(won as bigint)                              as won,
    cast(won_amount as {{ type_double() }})                       as won_amount,
    {%- for name, x, n in [('lead_to_mql', 'mqls', 'leads'), ('mql_to_sql', 'sqls', 'mqls'),
                            ('sql_to_opportunity', 'opportunities', 'sqls'),
                            ('opportunity_to_won', 'won', 'opportunities'), ('lead_to_won', 'won', 'leads')] %}
    cast({{ safe_divide(x, n) }} as {{ type_double() }})                     as {{ name }}_rate,
    cast({{ wilson_interval(x, n, 'low') }} as {{ type_double() }})          as {{ name }}_rate_ci_low,
    cast({{ wilson_interval(x, n, 'high') }} as {{ type_double() }})         as {{ name }}_rate_ci_high,
    {%- endfor %}
    cast(median_days_lead_to_mql as {{ type_double() }})          as median_days_lead_to_mql,
    cast(median_days_mql_to_sql as {{ type_double() }})           as median_days_mql_to_sql,
    cast(median_days_sql_to_opportunity as {{ type_double() }})   as median_days_sql_to_opportunity,
    cast(median_days_opportunity_to_won as {{ type_double() }})   as median_days_opportunity_to_won,
    cast({{ is_mature('period_grain', 'period_start') }} as boolean) as is_mature
from joined
