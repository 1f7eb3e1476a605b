{{ config(meta={'dagster': {'ref': {'name': 'pipeline_by_segment'}}}) }}
-- Credited totals equal pipeline and won totals, per model, in attribution_credit and in
-- pipeline_by_segment (each grain), and every reportable opportunity is credited. The models
-- come from attribution_models(), so a model missing from a mart fails too.
{#- Reads several models: Dagster shows it as an asset check of pipeline_by_segment, the mart it guards
    (without this, dagster-dbt logs an observation and a warning instead of a check). -#}
{{ config(meta={'dagster': {'ref': {'name': 'pipeline_by_segment'}}}) }}
with truth as (
    select sum(amount) as pipeline, sum(won_amount) as won, count(*) as n
    from {{ ref('int_opportunity_summary') }}
),

models as (
    {%- for m in attribution_models() %}
    select '{{ m }}' as model{% if not loop.last %} union all{% endif %}
    {%- endfor %}
),

grains as (
    select 'month' as period_grain union all select 'quarter'
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

select 'attribution_credit' as mart, m.model, cast(null as {{ dbt.type_string() }}) as period_grain
from models as m
cross join truth as t
left join credit as c on c.model = m.model
where t.n > 0
  and (c.model is null or abs(c.pipeline - t.pipeline) > 0.01 or abs(c.won - t.won) > 0.01 or c.n <> t.n)
union all
select 'attribution_credit', c.model, cast(null as {{ dbt.type_string() }})
from credit as c
where c.model not in (select model from models)
union all
select 'pipeline_by_segment', m.model, g.period_grain
from models as m
cross join grains as g
cross join truth as t
left join pipeline as p on p.model = m.model and p.period_grain = g.period_grain
where t.n > 0
  and (p.model is null or abs(p.pipeline - t.pipeline) > 0.01 or abs(p.won - t.won) > 0.01
       or abs(p.n - t.n) > 0.000001)
