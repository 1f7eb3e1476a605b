-- Credited totals equal pipeline and won totals, per model, in attribution_credit and in
-- pipeline_by_segment (each grain), and every reportable opportunity is credited.
with truth as (
    select sum(amount) as pipeline, sum(won_amount) as won, count(*) as n
    from {{ ref('int_opportunity_summary') }}
),

credit as (
    select model, sum(credited_pipeline_amount) as pipeline, sum(credited_won_amount) as won,
           count(distinct opportunity_id) as n
    from {{ ref('attribution_credit') }}
    group by model
),

pipeline as (
    select period_grain, model, sum(pipeline_amount) as pipeline, sum(won_amount) as won,
           sum(opportunities) as n
    from {{ ref('pipeline_by_segment') }}
    group by period_grain, model
)

select 'attribution_credit' as mart, c.model, cast(null as varchar) as period_grain
from credit as c cross join truth as t
where abs(c.pipeline - t.pipeline) > 0.01 or abs(c.won - t.won) > 0.01 or c.n <> t.n
union all
select 'pipeline_by_segment', p.model, p.period_grain
from pipeline as p cross join truth as t
where abs(p.pipeline - t.pipeline) > 0.01 or abs(p.won - t.won) > 0.01 or abs(p.n - t.n) > 0.000001
