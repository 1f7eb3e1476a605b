{#- Input of the pipeline snapshot: closed quarters only, amounts rounded to cents. -#}
select
    period_start || '|' || segment || '|' || model      as snapshot_key,
    period_start,
    segment,
    model,
    round(opportunities, 6)                              as opportunities,
    round(pipeline_amount, 2)                            as pipeline_amount,
    round(won_amount, 2)                                 as won_amount,
    round(influenced_pipeline, 2)                        as influenced_pipeline,
    round(influenced_won, 2)                             as influenced_won,
    round(sourced_pipeline, 2)                           as sourced_pipeline,
    round(sourced_won, 2)                                as sourced_won
from {{ ref('pipeline_by_segment') }}
where period_grain = 'quarter'
  and {{ period_end_exclusive('period_start', 'quarter') }} <= {{ as_of_date() }}
