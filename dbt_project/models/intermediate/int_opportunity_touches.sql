{#- The touches of an opportunity (DEFINITIONS.md "Attribution"): touches (GA4 and synthetic)
    of every linked person dated within [created_date - attribution_lookback_days, created_date],
    de-duplicated by touch_id, ordered by (touch_date, touch_id): touch_position 1..n.
    is_lead_touch: the touch is the sourcing touch of the opportunity's earliest linked lead. -#}
with linked_touches as (
    select distinct
        op.opportunity_id,
        t.touch_id,
        t.touch_date,
        t.touch_source,
        t.segment,
        t.channel,
        t.advocate_id,
        t.post_id,
        t.network
    from {{ ref('int_opportunity_people') }} as op
    inner join {{ ref('int_opportunities') }} as o on o.opportunity_id = op.opportunity_id
    inner join {{ ref('int_touches') }} as t on t.person_key = op.person_key
    where t.touch_date >= {{ date_add_days('-' ~ var('attribution_lookback_days', 180), 'o.created_date') }}
      and t.touch_date <= o.created_date
),

lead_touch as (
    select opportunity_id, sourcing_touch_id
    from {{ ref('int_opportunity_people') }}
    where is_earliest_lead
)

select
    lt.opportunity_id,
    lt.touch_id,
    lt.touch_date,
    lt.touch_source,
    lt.segment,
    lt.channel,
    lt.advocate_id,
    lt.post_id,
    lt.network,
    row_number() over (partition by lt.opportunity_id order by lt.touch_date, lt.touch_id) as touch_position,
    count(*) over (partition by lt.opportunity_id)                                         as n_touches,
    coalesce(lt.touch_id = l.sourcing_touch_id, false)                                     as is_lead_touch
from linked_touches as lt
left join lead_touch as l on l.opportunity_id = lt.opportunity_id
