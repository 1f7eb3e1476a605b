{{ config(meta={'dagster': {'ref': {'name': 'funnel_by_segment'}}}) }}
-- Segments add up to the whole: funnel leads per period (both segments) = the people of
-- int_people (the identity table, upstream of segments and stages) whose lead date is in it;
-- sourced pipeline over both segments = all pipeline created in the period (credited, each
-- model) = int_opportunity_summary's.
{#- Reads several models: Dagster shows it as an asset check of funnel_by_segment, the mart it guards
    (without this, dagster-dbt logs an observation and a warning instead of a check). -#}
{{ config(meta={'dagster': {'ref': {'name': 'funnel_by_segment'}}}) }}
with funnel as (
    select period_grain, period_start, sum(leads) as leads
    from {{ ref('funnel_by_segment') }}
    group by period_grain, period_start
),

people as (
    select lead_date from {{ ref('int_people') }}
    where lead_date <= {{ as_of_date() }}
),

people_periods as (
    {{ fan_out_periods('people', 'people.lead_date') }}
),

people_counts as (
    select period_grain, period_start, count(*) as leads
    from people_periods
    group by period_grain, period_start
),

opps as (
    select created_date, amount from {{ ref('int_opportunity_summary') }}
),

opp_periods as (
    {{ fan_out_periods('opps', 'opps.created_date') }}
),

opp_totals as (
    select period_grain, period_start, sum(amount) as pipeline
    from opp_periods
    group by period_grain, period_start
),

pipeline as (
    select period_grain, period_start, model, sum(sourced_pipeline) as sourced, sum(pipeline_amount) as credited
    from {{ ref('pipeline_by_segment') }}
    group by period_grain, period_start, model
)

select f.period_grain, f.period_start, 'funnel' as what
from funnel as f
full outer join people_counts as p on p.period_grain = f.period_grain and p.period_start = f.period_start
where coalesce(f.leads, -1) <> coalesce(p.leads, -1)
union all
select p.period_grain, p.period_start, 'pipeline ' || p.model
from pipeline as p
left join opp_totals as o on o.period_grain = p.period_grain and o.period_start = p.period_start
where abs(p.sourced - p.credited) > 0.01
   or abs(p.sourced - coalesce(o.pipeline, 0)) > 0.01
