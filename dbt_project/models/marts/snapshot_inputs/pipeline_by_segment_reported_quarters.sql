{#- Input of the snapshot pipeline_by_segment_reported: pipeline by quarter of opportunity
    creation x segment x model *as reported*, i.e. as of the quarter's reporting date
    (reported_on = its last day + maturity_days). Only quarters reported by as_of, and only on
    a reporting run (as_of = the last complete day); otherwise empty.

    As of reported_on: an opportunity counts as won only if it closed won by reported_on, and
    its amount is converted at the rate of min(close date, reported_on), so deals closing and
    rates moving after the reporting date are growth, not restatements. Figures (rounded to
    cents, credited counts to 1e-6): opportunities / pipeline_amount / won_amount credited
    under the model (attribution_credit); influenced_* the full amounts of the opportunities
    with a credit row of the segment (their touches; model-independent); sourced_* those
    whose earliest linked lead is of the segment. -#}
{{ config(materialized=long_view_materialization()) }}
with opps as (
    select
        s.opportunity_id                                   as row_id,
        s.opportunity_id,
        {{ period_start('s.created_date', 'quarter') }}    as period_start,
        s.sourced_segment,
        s.is_won,
        s.close_date,
        s.amount                                           as amount_now,
        o.amount_original,
        o.currency_code
    from {{ ref('int_opportunity_summary') }} as s
    inner join {{ ref('int_opportunities') }} as o on o.opportunity_id = s.opportunity_id
),

quarters as (
    select distinct period_start, {{ quarter_reported_on('period_start') }} as reported_on
    from opps
    where {{ quarter_reported_on('period_start') }} <= {{ as_of_date() }}
      and {{ 'true' if is_reporting_run() else 'false' }}
),

dated as (
    select
        o.*,
        q.reported_on,
        case when o.close_date is null or o.close_date > q.reported_on then q.reported_on
             else o.close_date end                        as rate_date,
        o.is_won and o.close_date <= q.reported_on         as is_won_reported
    from opps as o
    inner join quarters as q on q.period_start = o.period_start
),

{{ convert_to_reporting('dated', 'currency_code', 'rate_date') }},

frozen as (
    select
        opportunity_id,
        period_start,
        reported_on,
        sourced_segment,
        is_won_reported,
        -- a currency without a rate on that date keeps today's conversion
        case when is_currency_known then amount_original / conversion_rate else amount_now end as amount
    from dated_converted
),

credit as (
    select a.opportunity_id, a.model, a.segment, a.credit
    from {{ ref('attribution_credit') }} as a
    inner join frozen as f on f.opportunity_id = a.opportunity_id
),

credited as (
    select
        f.period_start,
        c.segment,
        c.model,
        sum(c.credit)                                                       as opportunities,
        sum(c.credit * f.amount)                                            as pipeline_amount,
        sum(case when f.is_won_reported then c.credit * f.amount else 0 end) as won_amount
    from credit as c
    inner join frozen as f on f.opportunity_id = c.opportunity_id
    group by f.period_start, c.segment, c.model
),

touched as (
    select distinct opportunity_id, segment from credit
),

influenced as (
    select
        f.period_start,
        t.segment,
        sum(f.amount)                                                as influenced_pipeline,
        sum(case when f.is_won_reported then f.amount else 0 end)    as influenced_won
    from touched as t
    inner join frozen as f on f.opportunity_id = t.opportunity_id
    group by f.period_start, t.segment
),

sourced as (
    select
        period_start,
        sourced_segment                                              as segment,
        sum(amount)                                                  as sourced_pipeline,
        sum(case when is_won_reported then amount else 0 end)        as sourced_won
    from frozen
    group by period_start, sourced_segment
),

segments as (
    select segment from credit
    union
    select sourced_segment from frozen
),

models as (
    {%- for m in attribution_models() %}
    select '{{ m }}' as model{% if not loop.last %} union all{% endif %}
    {%- endfor %}
),

grid as (
    select q.period_start, q.reported_on, s.segment, m.model
    from quarters as q
    cross join segments as s
    cross join models as m
)

select
    cast(g.period_start as {{ dbt.type_string() }}) || '|' || g.segment || '|' || g.model        as snapshot_key,
    cast(g.period_start as date)                                                 as period_start,
    cast(g.reported_on as date)                                                  as reported_on,
    cast(g.segment as {{ dbt.type_string() }})                                                   as segment,
    cast(g.model as {{ dbt.type_string() }})                                                     as model,
    cast({{ round_to("coalesce(c.opportunities, 0)", 6) }} as {{ type_double() }})          as opportunities,
    cast({{ round_to("coalesce(c.pipeline_amount, 0)", 2) }} as {{ type_double() }})        as pipeline_amount,
    cast({{ round_to("coalesce(c.won_amount, 0)", 2) }} as {{ type_double() }})             as won_amount,
    cast({{ round_to("coalesce(i.influenced_pipeline, 0)", 2) }} as {{ type_double() }})    as influenced_pipeline,
    cast({{ round_to("coalesce(i.influenced_won, 0)", 2) }} as {{ type_double() }})         as influenced_won,
    cast({{ round_to("coalesce(s.sourced_pipeline, 0)", 2) }} as {{ type_double() }})       as sourced_pipeline,
    cast({{ round_to("coalesce(s.sourced_won, 0)", 2) }} as {{ type_double() }})            as sourced_won
from grid as g
left join credited as c
    on c.period_start = g.period_start and c.segment = g.segment and c.model = g.model
left join influenced as i on i.period_start = g.period_start and i.segment = g.segment
left join sourced as s on s.period_start = g.period_start and s.segment = g.segment
