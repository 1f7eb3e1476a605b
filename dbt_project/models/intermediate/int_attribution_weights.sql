{#- Credit per opportunity x touch x model (docs/DEFINITIONS.md, "Attribution"):
      first_touch / last_touch: 1 to the first / last touch;
      linear: 1/n;
      u_shaped: n=1 -> 1; n=2 -> 1/2 each; n>=3 -> 0.4 first, 0.4 last, 0.2/(n-2) each middle;
      w_shaped: 0.3 to the first, 0.3 to the lead-creation touch (if among the touches), 0.3 to
        the last; coinciding roles add up; 0.1 split over the touches with no role (if any);
        then divided by the sum;
      time_decay: 2^(-(created_date - touch_date)/time_decay_half_life_days), divided by the sum.
    An opportunity with no touch gets one touch 'unattributed' with credit 1 in every model.
    Only touches with credit > 0 (after rounding to 12 decimals) are listed. -#}
{%- set half_life = var('time_decay_half_life_days', 7) -%}
with touches as (
    select
        t.*,
        o.created_date,
        {{ days_between('t.touch_date', 'o.created_date') }} as age_days,
        case when t.touch_position = 1 then 1 else 0 end
            + case when t.touch_position = t.n_touches then 1 else 0 end
            + case when t.is_lead_touch then 1 else 0 end    as w_roles
    from {{ ref('int_opportunity_touches') }} as t
    inner join {{ ref('int_opportunities') }} as o on o.opportunity_id = t.opportunity_id
),

role_counts as (
    select
        opportunity_id,
        sum(case when w_roles = 0 then 1 else 0 end) as n_free
    from touches
    group by opportunity_id
),

raw_weights as (
    select
        t.opportunity_id, t.touch_id, t.touch_date, t.touch_position, t.n_touches,
        'first_touch' as model,
        case when t.touch_position = 1 then 1.0 else 0.0 end as raw_weight
    from touches as t
    union all
    select t.opportunity_id, t.touch_id, t.touch_date, t.touch_position, t.n_touches, 'last_touch',
        case when t.touch_position = t.n_touches then 1.0 else 0.0 end
    from touches as t
    union all
    select t.opportunity_id, t.touch_id, t.touch_date, t.touch_position, t.n_touches, 'linear',
        1.0 / t.n_touches
    from touches as t
    union all
    select t.opportunity_id, t.touch_id, t.touch_date, t.touch_position, t.n_touches, 'u_shaped',
        case
            when t.n_touches = 1 then 1.0
            when t.n_touches = 2 then 0.5
            when t.touch_position = 1 or t.touch_position = t.n_touches then 0.4
            else 0.2 / (t.n_touches - 2)
        end
    from touches as t
    union all
    select t.opportunity_id, t.touch_id, t.touch_date, t.touch_position, t.n_touches, 'w_shaped',
        case
            when t.w_roles > 0 then 0.3 * t.w_roles
            else 0.1 / rc.n_free
        end
    from touches as t
    inner join role_counts as rc on rc.opportunity_id = t.opportunity_id
    union all
    select t.opportunity_id, t.touch_id, t.touch_date, t.touch_position, t.n_touches, 'time_decay',
        -- in doubles: Spark computes -1.0 * age / 7 in DECIMAL, rounded to 6 to 12 digits
        power(cast(2 as {{ type_double() }}), -1 * cast(t.age_days as {{ type_double() }}) / {{ half_life }})
    from touches as t
),

normalised as (
    select
        opportunity_id,
        touch_id,
        touch_date,
        touch_position,
        n_touches,
        model,
        -- rounded to 12 decimals: a floating sum's order is not fixed, and the last bit of a
        -- credit must not flip between builds (snapshots compare values); error <= 5e-13.
        {{ round_to('raw_weight / sum(raw_weight) over (partition by opportunity_id, model)', 12) }} as credit
    from raw_weights
),

models as (
    {%- for m in attribution_models() %}
    select '{{ m }}' as model{% if not loop.last %} union all{% endif %}
    {%- endfor %}
),

unattributed as (
    select
        o.opportunity_id,
        'unattributed'     as touch_id,
        cast(null as date) as touch_date,
        cast(1 as bigint)  as touch_position,
        cast(0 as bigint)  as n_touches,
        m.model,
        1.0                as credit
    from {{ ref('int_opportunities') }} as o
    cross join models as m
    where o.is_currency_known
      and not exists (
          select 1 from {{ ref('int_opportunity_touches') }} as t where t.opportunity_id = o.opportunity_id
      )
)

-- a touch is listed only where its (rounded) credit is > 0 (DEFINITIONS.md, pinned details):
-- first/last touch give one row per opportunity, not one per touch
select * from normalised
where credit > 0
union all
select * from unattributed
