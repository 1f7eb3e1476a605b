{#- The paths the data-driven attribution models learn from (DEFINITIONS.md "Data-driven
    attribution"): one row per path x touch, a path without touch as one row with a null
    touch_position / channel / segment.
      lead: one path per person; it converts when the person reached the opportunity stage
        (opportunity_date <= as_of); its touches are the person's touches dated from
        lead_date - lead_sourcing_lookback_days to the conversion date (as_of when it did not
        convert). Resampled by person.
      opportunity: one path per reportable opportunity (int_opportunity_summary); it converts
        when it is won by as_of; its touches are int_opportunity_touches (the rule models'
        touches). Resampled by account (an opportunity without account is its own).
    is_mature: the path started (lead date / created date) at least maturity_days before
    as_of, so a path that has not converted yet had its chance; only mature paths are learnt
    from (converting and non-converting alike: a recent lead that has not converted yet is
    not a failure). Every opportunity, mature or not, is credited (amount). -#}
{%- set mature_by = date_add_days('-' ~ var('maturity_days', 90), as_of_date()) -%}
with lead_paths as (
    select
        s.person_key                                    as path_id,
        s.person_key                                    as cluster_id,
        s.lead_date                                     as start_date,
        s.opportunity_date is not null                  as is_converted,
        s.lead_date <= {{ mature_by }}                  as is_mature,
        coalesce(s.opportunity_date, {{ as_of_date() }}) as end_date
    from {{ ref('int_person_stages') }} as s
    where s.lead_date <= {{ as_of_date() }}
),

lead_touches as (
    select
        p.path_id,
        t.touch_id,
        t.touch_date,
        t.channel,
        t.segment
    from lead_paths as p
    inner join {{ ref('int_touches') }} as t on t.person_key = p.path_id
    where t.touch_date >= {{ date_add_days('-' ~ var('lead_sourcing_lookback_days', 90), 'p.start_date') }}
      and t.touch_date <= p.end_date
),

opportunity_paths as (
    select
        o.opportunity_id                                as path_id,
        coalesce(o.account_id, o.opportunity_id)        as cluster_id,
        o.created_date                                  as start_date,
        o.is_won                                        as is_converted,
        o.created_date <= {{ mature_by }}               as is_mature,
        o.amount
    from {{ ref('int_opportunity_summary') }} as o
),

paths as (
    select
        'lead' as path_kind, p.path_id, p.cluster_id, p.start_date, p.is_converted, p.is_mature,
        cast(null as {{ type_double() }}) as amount,
        t.touch_id, t.touch_date, t.channel, t.segment
    from lead_paths as p
    left join lead_touches as t on t.path_id = p.path_id
    union all
    select
        'opportunity', p.path_id, p.cluster_id, p.start_date, p.is_converted, p.is_mature,
        p.amount,
        t.touch_id, t.touch_date, t.channel, t.segment
    from opportunity_paths as p
    left join {{ ref('int_opportunity_touches') }} as t on t.opportunity_id = p.path_id
)

select
    path_kind,
    path_id,
    cluster_id,
    start_date,
    is_converted,
    is_mature,
    amount,
    case when touch_id is not null then
        row_number() over (partition by path_kind, path_id order by touch_date, touch_id)
    end                                                 as touch_position,
    touch_date,
    channel,
    segment
from paths
