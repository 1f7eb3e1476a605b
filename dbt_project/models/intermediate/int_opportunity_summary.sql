{#- One row per reportable opportunity (known currency) with what the marts need:
    sourced segment (the segment of its earliest linked lead, 'unattributed' without one),
    whether an advocacy / other touch influenced it, is_unattributed when it has no touch at all
    (its 'unattributed' credit row is not a touch: it influences no segment; DEFINITIONS.md
    "Unattributed"), new-customer flag (the
    account's first won opportunity by close date; an opportunity without account is its own
    account) and cycle length. -#}
with touch_flags as (
    select
        opportunity_id,
        max(case when segment = 'advocacy' then 1 else 0 end) as has_advocacy_touch,
        max(case when segment <> 'advocacy' then 1 else 0 end) as has_other_touch,
        count(*)                                              as n_touches
    from {{ ref('int_opportunity_touches') }}
    group by opportunity_id
),

lead as (
    select opportunity_id, person_key, segment
    from {{ ref('int_opportunity_people') }}
    where is_earliest_lead
),

opps as (
    select * from {{ ref('int_opportunities') }} where is_currency_known
),

first_won as (
    select
        opportunity_id,
        row_number() over (
            partition by coalesce(account_id, opportunity_id) order by close_date, opportunity_id
        ) = 1 as is_new_customer
    from opps
    where is_won
)

select
    o.opportunity_id,
    o.source_system,
    o.account_id,
    o.created_date,
    o.close_date,
    o.is_won,
    o.is_closed,
    o.is_closed and not o.is_won                                    as is_lost,
    o.amount,
    case when o.is_won then o.amount else 0 end                     as won_amount,
    o.owner_user_id,
    l.person_key                                                    as lead_person_key,
    coalesce(l.segment, 'unattributed')                             as sourced_segment,
    coalesce(t.has_advocacy_touch, 0) = 1                           as is_advocacy_influenced,
    coalesce(t.has_other_touch, 0) = 1                              as is_other_influenced,
    coalesce(t.n_touches, 0) = 0                                    as is_unattributed,
    coalesce(t.n_touches, 0)                                        as n_touches,
    coalesce(f.is_new_customer, false)                              as is_new_customer,
    -- impossible dates (closed before created, before 1970) give no cycle: flagged in data_quality
    case when o.is_won and not {{ impossible_dates('o.created_date', 'o.close_date') }}
         then {{ days_between('o.created_date', 'o.close_date') }} end as cycle_days
from opps as o
left join touch_flags as t on t.opportunity_id = o.opportunity_id
left join lead as l on l.opportunity_id = o.opportunity_id
left join first_won as f on f.opportunity_id = o.opportunity_id
