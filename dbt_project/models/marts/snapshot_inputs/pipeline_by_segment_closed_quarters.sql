{#- Input of the pipeline snapshot: quarter rows of pipeline_by_segment whose quarter has
    ended by as_of, amounts rounded to cents and credited counts to 1e-6. Only reported numbers
    (and the key), which the snapshot's check_cols list: a new version means a restatement. -#}
select
    cast(period_start as varchar) || '|' || segment || '|' || model as snapshot_key,
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
