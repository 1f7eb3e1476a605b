{{ config(materialized='view') }}
{#- True restatements: a figure of a reported (frozen) quarter that changed after it was first
    reported, because the data of the quarter up to its reporting date was corrected (a
    closed deal's amount or stage edited, records deleted or merged, a lifecycle date
    re-dated). The snapshots hold the quarters as of their reporting dates (snapshot inputs
    *_reported_quarters), so growth after that date never opens a version: every version
    after the first is a restatement. One row per changed figure per restatement: the value
    before and after, and when each was written. A view: always current with the snapshots. -#}
{%- set sources = [
    ('funnel_by_segment_reported', 'cast(null as ' ~ dbt.type_string() ~ ')',
     ['leads', 'mqls', 'sqls', 'opportunities', 'won', 'won_amount']),
    ('pipeline_by_segment_reported', 'model',
     ['opportunities', 'pipeline_amount', 'won_amount', 'influenced_pipeline', 'influenced_won',
      'sourced_pipeline', 'sourced_won']),
] -%}
with
{%- for snapshot, model_col, figures in sources %}
{{ snapshot }}_versions as (
    select
        '{{ snapshot }}'                                                             as snapshot_name,
        snapshot_key,
        period_start,
        reported_on,
        segment,
        {{ model_col }}                                                              as model,
        dbt_valid_from,
        min(dbt_valid_from) over (partition by snapshot_key)                         as first_reported_at,
        lag(dbt_valid_from) over (partition by snapshot_key order by dbt_valid_from) as previous_valid_from
        {%- for f in figures %},
        cast({{ f }} as {{ type_double() }})                                         as {{ f }},
        cast(lag({{ f }}) over (partition by snapshot_key order by dbt_valid_from) as {{ type_double() }}) as previous_{{ f }}
        {%- endfor %}
    from {{ ref(snapshot) }}
),
{%- endfor %}

changes as (
{%- for snapshot, model_col, figures in sources %}
    {%- set outer_loop = loop %}
    {%- for f in figures %}
    select snapshot_name, snapshot_key, period_start, reported_on, segment, model,
           '{{ f }}' as figure, previous_{{ f }} as reported_value, {{ f }} as restated_value,
           first_reported_at, previous_valid_from, dbt_valid_from as restated_at
    from {{ snapshot }}_versions
    where previous_valid_from is not null
      and {{ f }} is distinct from previous_{{ f }}
    {%- if not (loop.last and outer_loop.last) %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endfor %}
)

select
    cast(snapshot_name as {{ dbt.type_string() }})                       as snapshot_name,
    cast(snapshot_key as {{ dbt.type_string() }})                        as snapshot_key,
    cast(period_start as date)                           as period_start,
    cast(reported_on as date)                            as reported_on,
    cast(segment as {{ dbt.type_string() }})                             as segment,
    cast(model as {{ dbt.type_string() }})                               as model,
    cast(figure as {{ dbt.type_string() }})                              as figure,
    cast(reported_value as {{ type_double() }})          as reported_value,
    cast(restated_value as {{ type_double() }})          as restated_value,
    cast(restated_value - reported_value as {{ type_double() }}) as change,
    cast(first_reported_at as timestamp)                 as first_reported_at,
    cast(previous_valid_from as timestamp)               as previous_valid_from,
    cast(restated_at as timestamp)                       as restated_at
from changes
