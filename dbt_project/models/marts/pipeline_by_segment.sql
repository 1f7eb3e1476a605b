{#- Pipeline by the period of opportunity creation x segment (advocacy | other | unattributed)
    x attribution model. Credited under the model (segments add up to the whole): opportunities, pipeline_amount,
    won_amount, won_count, lost_count, new_customers (fractional credited counts), close_rate,
    avg_won_amount. Model-independent, full amounts, not additive across segments:
    influenced_* (advocacy / other: the opportunity has at least one touch of the segment;
    unattributed: it has no touch at all), sourced_* (the segment of the opportunity's earliest
    linked lead; unattributed without a linked lead).
    median_cycle_days: won opportunities credited to the segment under the model. -#}
with credit as (
    select
        a.model,
        a.segment,
        a.credit,
        a.credited_pipeline_amount,
        a.credited_won_amount,
        o.opportunity_id,
        o.created_date,
        o.is_won,
        o.is_lost,
        o.is_new_customer,
        o.cycle_days
    from {{ ref('attribution_credit') }} as a
    inner join {{ ref('int_opportunity_summary') }} as o on o.opportunity_id = a.opportunity_id
),

credit_periods as (
    {{ fan_out_periods('credit', 'credit.created_date') }}
),

credited as (
    select
        period_grain,
        period_start,
        segment,
        model,
        sum(credit)                                             as opportunities,
        sum(credited_pipeline_amount)                           as pipeline_amount,
        sum(credited_won_amount)                                as won_amount,
        sum(case when is_won then credit else 0 end)            as won_count,
        sum(case when is_lost then credit else 0 end)           as lost_count,
        sum(case when is_new_customer then credit else 0 end)   as new_customers
    from credit_periods
    group by period_grain, period_start, segment, model
),

cycles as (
    select period_grain, period_start, segment, model, {{ median('cycle_days') }} as median_cycle_days
    from (
        select distinct period_grain, period_start, segment, model, opportunity_id, cycle_days
        from credit_periods
        where is_won and credit > 0
    ) as won_credited
    group by period_grain, period_start, segment, model
),

opps as (
    select * from {{ ref('int_opportunity_summary') }}
),

opp_periods as (
    {{ fan_out_periods('opps', 'opps.created_date') }}
),

segments as (
    select 'advocacy' as segment union all select 'other' union all select 'unattributed'
),

full_amounts as (
    select
        p.period_grain,
        p.period_start,
        s.segment,
        sum(case when (s.segment = 'advocacy' and p.is_advocacy_influenced)
                   or (s.segment = 'other' and p.is_other_influenced)
                   or (s.segment = 'unattributed' and p.is_unattributed) then p.amount else 0 end)     as influenced_pipeline,
        sum(case when (s.segment = 'advocacy' and p.is_advocacy_influenced)
                   or (s.segment = 'other' and p.is_other_influenced)
                   or (s.segment = 'unattributed' and p.is_unattributed) then p.won_amount else 0 end) as influenced_won,
        sum(case when p.sourced_segment = s.segment then p.amount else 0 end)                        as sourced_pipeline,
        sum(case when p.sourced_segment = s.segment then p.won_amount else 0 end)                    as sourced_won
    from opp_periods as p
    cross join segments as s
    group by p.period_grain, p.period_start, s.segment
),

models as (
    {%- for m in attribution_models() %}
    select '{{ m }}' as model{% if not loop.last %} union all{% endif %}
    {%- endfor %}
),

grid as (
    select f.period_grain, f.period_start, f.segment, m.model
    from full_amounts as f
    cross join models as m
)

select
    cast(g.period_grain as {{ dbt.type_string() }})                                  as period_grain,
    cast(g.period_start as date)                                     as period_start,
    cast(g.segment as {{ dbt.type_string() }})                                       as segment,
    cast(g.model as {{ dbt.type_string() }})                                         as model,
    cast(coalesce(c.opportunities, 0) as {{ type_double() }})                     as opportunities,
    cast(coalesce(c.pipeline_amount, 0) as {{ type_double() }})                   as pipeline_amount,
    cast(coalesce(c.won_amount, 0) as {{ type_double() }})                        as won_amount,
    cast(f.influenced_pipeline as {{ type_double() }})                            as influenced_pipeline,
    cast(f.influenced_won as {{ type_double() }})                                 as influenced_won,
    cast(f.sourced_pipeline as {{ type_double() }})                               as sourced_pipeline,
    cast(f.sourced_won as {{ type_double() }})                                    as sourced_won,
    cast(coalesce(c.won_count, 0) as {{ type_double() }})                         as won_count,
    cast(coalesce(c.lost_count, 0) as {{ type_double() }})                        as lost_count,
    cast({{ safe_divide('c.won_count', 'c.won_count + c.lost_count') }} as {{ type_double() }}) as close_rate,
    cast({{ safe_divide('c.won_amount', 'c.won_count') }} as {{ type_double() }}) as avg_won_amount,
    cast(y.median_cycle_days as {{ type_double() }})                              as median_cycle_days,
    cast(coalesce(c.new_customers, 0) as {{ type_double() }})                     as new_customers
from grid as g
inner join full_amounts as f
    on f.period_grain = g.period_grain and f.period_start = g.period_start and f.segment = g.segment
left join credited as c
    on c.period_grain = g.period_grain and c.period_start = g.period_start
   and c.segment = g.segment and c.model = g.model
left join cycles as y
    on y.period_grain = g.period_grain and y.period_start = g.period_start
   and y.segment = g.segment and y.model = g.model
