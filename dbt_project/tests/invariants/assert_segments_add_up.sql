-- Segments add up to the whole: funnel leads per period = people whose lead date is in it;
-- sourced pipeline over both segments = all pipeline created in the period.
with funnel as (
    select period_grain, period_start, sum(leads) as leads
    from {{ ref('funnel_by_segment') }}
    group by period_grain, period_start
),

people as (
    select lead_date from {{ ref('int_person_segments') }}
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
select period_grain, period_start, 'pipeline ' || model
from pipeline
where abs(sourced - credited) > 0.01
