{#- Credit per opportunity x touch x model (six models; 'unattributed' when the opportunity
    has no touch: touch_id, channel and segment 'unattributed', never 'other'), with the
    credited pipeline and won amounts in the reporting currency. -#}
select
    cast(w.opportunity_id as {{ dbt.type_string() }})                                    as opportunity_id,
    cast(w.touch_id as {{ dbt.type_string() }})                                          as touch_id,
    cast(w.model as {{ dbt.type_string() }})                                             as model,
    cast(w.credit as {{ type_double() }})                                             as credit,
    cast(w.credit * o.amount as {{ type_double() }})                                  as credited_pipeline_amount,
    cast(case when o.is_won then w.credit * o.amount else 0 end as {{ type_double() }}) as credited_won_amount,
    cast(coalesce(t.channel, 'unattributed') as {{ dbt.type_string() }})                 as channel,
    cast(coalesce(t.segment, 'unattributed') as {{ dbt.type_string() }})                 as segment,
    cast(t.advocate_id as {{ dbt.type_string() }})                                       as advocate_id,
    cast(t.post_id as {{ dbt.type_string() }})                                           as post_id,
    cast(t.network as {{ dbt.type_string() }})                                           as network,
    cast(coalesce(t.touch_source, 'unattributed') as {{ dbt.type_string() }})            as touch_source,
    cast(w.touch_date as date)                                           as touch_date,
    cast(w.touch_position as bigint)                                     as touch_position,
    cast(w.n_touches as bigint)                                          as n_touches,
    cast(coalesce(t.is_lead_touch, false) as boolean)                    as is_lead_touch,
    cast(o.created_date as date)                                         as opportunity_created_date,
    cast(o.close_date as date)                                           as opportunity_close_date,
    cast(o.is_won as boolean)                                            as is_won,
    cast(o.amount as {{ type_double() }})                                             as opportunity_amount,
    cast(o.sourced_segment as {{ dbt.type_string() }})                                   as sourced_segment
from {{ ref('int_attribution_weights') }} as w
inner join {{ ref('int_opportunity_summary') }} as o on o.opportunity_id = w.opportunity_id
left join {{ ref('int_opportunity_touches') }} as t
    on t.opportunity_id = w.opportunity_id and t.touch_id = w.touch_id
