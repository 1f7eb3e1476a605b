{#- Input of the funnel snapshot: quarter rows of funnel_by_segment whose quarter has ended by
    as_of, amounts rounded to cents and rates to 1e-9 so floating noise never opens a version.
    Only reported numbers (and the key): nothing that changes from one nightly run to the next
    while the numbers stay (as_of, is_mature), so a new snapshot version means a restatement.
    The snapshot's check_cols list the same numeric columns. -#}
select
    cast(period_start as varchar) || '|' || segment     as snapshot_key,
    period_start,
    segment,
    leads, mqls, sqls, opportunities, won,
    round(won_amount, 2)                                as won_amount,
    round(lead_to_mql_rate, 9)                          as lead_to_mql_rate,
    round(mql_to_sql_rate, 9)                           as mql_to_sql_rate,
    round(sql_to_opportunity_rate, 9)                   as sql_to_opportunity_rate,
    round(opportunity_to_won_rate, 9)                   as opportunity_to_won_rate
from {{ ref('funnel_by_segment') }}
where period_grain = 'quarter'
  and {{ period_end_exclusive('period_start', 'quarter') }} <= {{ as_of_date() }}
