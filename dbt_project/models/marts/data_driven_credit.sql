{#- Data-driven credit per path kind x dimension x model x channel (or segment), with its
    bootstrap interval (computed by the Python model int_data_driven_attribution;
    DEFINITIONS.md "Data-driven attribution"). A channel or segment in fewer than
    attribution_min_paths paths is suppressed: its credit, interval and credited conversions
    are null and `note` says why (it still takes part in the estimate: leaving it out would
    move every other channel's credit). -#}
{%- set min_paths = var('attribution_min_paths', 50) | int -%}
with estimates as (
    select *, n_paths < {{ min_paths }} as is_suppressed
    from {{ ref('int_data_driven_attribution') }}
    where result = 'credit'
)

select
    cast(path_kind as {{ dbt.type_string() }})                                                   as path_kind,
    cast(dimension as {{ dbt.type_string() }})                                                   as dimension,
    cast(model as {{ dbt.type_string() }})                                                       as model,
    cast(member as {{ dbt.type_string() }})                                                      as channel_or_segment,
    cast(case when not is_suppressed then credit end as {{ type_double() }})               as credit,
    cast(case when not is_suppressed then ci_low end as {{ type_double() }})               as ci_low,
    cast(case when not is_suppressed then ci_high end as {{ type_double() }})              as ci_high,
    cast(case when not is_suppressed then credited_conversions end as {{ type_double() }}) as credited_conversions,
    cast(case when not is_suppressed then raw_value end as {{ type_double() }})            as raw_value,
    cast(n_paths as bigint)                                                      as n_paths,
    cast(n_converting_paths as bigint)                                           as n_converting_paths,
    cast(is_suppressed as boolean)                                               as is_suppressed,
    cast(case
        when is_suppressed then 'suppressed: in ' || cast(n_paths as {{ dbt.type_string() }})
            || ' paths, fewer than attribution_min_paths ({{ min_paths }})'
        when member = '(other)' then 'the channels beyond attribution_max_players, as one player'
    end as {{ dbt.type_string() }})                                                              as note,
    cast(n_replicates as bigint)                                                 as n_replicates,
    cast(case when model = 'markov' then markov_order end as bigint)             as markov_order
from estimates
