{#- Advocacy's share of all pipeline (every opportunity's amount, created up to as_of) under
    the six rule models and the data-driven ones, side by side: the rule models' shares are
    pipeline_by_segment's (advocacy's credited pipeline over all segments', summed over the
    quarters), the data-driven shares, every interval and the rank stability come from
    int_data_driven_attribution (DEFINITIONS.md "Data-driven attribution"). -#}
with rule_shares as (
    select
        model,
        sum(case when segment = 'advocacy' then pipeline_amount else 0 end) as advocacy_amount,
        sum(pipeline_amount)                                                 as total_amount
    from {{ ref('pipeline_by_segment') }}
    where period_grain = 'quarter'
    group by model
),

estimates as (
    select * from {{ ref('int_data_driven_attribution') }} where result = 'comparison'
)

select
    cast(e.model as {{ dbt.type_string() }})                                                     as model,
    cast(case when e.model in ('markov', 'shapley') then 'data_driven'
              when e.model = 'leave_one_out' then 'comparison'
              else 'rule' end as {{ dbt.type_string() }})                                        as model_family,
    cast(case when r.model is not null
              then {{ safe_divide('r.advocacy_amount', 'r.total_amount') }}
              else e.credit end as {{ type_double() }})                          as advocacy_pipeline_share,
    cast(e.ci_low as {{ type_double() }})                                        as ci_low,
    cast(e.ci_high as {{ type_double() }})                                       as ci_high,
    cast(coalesce(r.advocacy_amount, e.credited_amount) as {{ type_double() }})  as advocacy_pipeline_amount,
    cast(coalesce(r.total_amount, e.total_amount) as {{ type_double() }})        as pipeline_amount,
    cast(e.member_rank as bigint)                                                as advocacy_rank,
    cast(e.n_members as bigint)                                                  as n_channels,
    cast(e.rank_stability as {{ type_double() }})                                as rank_stability,
    cast(e.n_paths as bigint)                                                    as n_opportunities,
    cast(e.n_replicates as bigint)                                               as n_replicates,
    cast(e.markov_order as bigint)                                               as markov_order
from estimates as e
left join rule_shares as r on r.model = e.model
