{#- Site traffic per date x segment x network from GA4's daily report (all sessions,
    including those without the visitor id). network: the advocacy network for advocacy rows,
    '(none)' for every other channel. leads_created: people whose lead date is the date, by their
    segment and sourcing network. share_of_sessions: of all the date's sessions. -#}
with traffic as (
    select
        session_date                                                      as activity_date,
        segment,
        case when segment = 'advocacy' then coalesce(network, '(unknown)') else '(none)' end as network,
        sum(sessions)         as sessions,
        sum(engaged_sessions) as engaged_sessions,
        sum(key_events)       as key_events
    from {{ ref('int_ga4_traffic') }}
    group by 1, 2, 3
),

leads as (
    select
        lead_date as activity_date,
        segment,
        case when segment = 'advocacy' then coalesce(sourcing_network, '(unknown)') else '(none)' end as network,
        count(*) as leads_created
    from {{ ref('int_person_segments') }}
    where lead_date <= {{ as_of_date() }}
    group by 1, 2, 3
),

keys as (
    select activity_date, segment, network from traffic
    union
    select activity_date, segment, network from leads
),

joined as (
    select
        k.activity_date,
        k.segment,
        k.network,
        coalesce(t.sessions, 0)         as sessions,
        coalesce(t.engaged_sessions, 0) as engaged_sessions,
        coalesce(t.key_events, 0)       as key_events,
        coalesce(l.leads_created, 0)    as leads_created
    from keys as k
    left join traffic as t
        on t.activity_date = k.activity_date and t.segment = k.segment and t.network = k.network
    left join leads as l
        on l.activity_date = k.activity_date and l.segment = k.segment and l.network = k.network
)

select
    cast(activity_date as date)                                   as date,
    cast(case {{ day_of_week_number('activity_date') }}
        when 0 then 'Sunday' when 1 then 'Monday' when 2 then 'Tuesday' when 3 then 'Wednesday'
        when 4 then 'Thursday' when 5 then 'Friday' else 'Saturday' end as {{ dbt.type_string() }}) as day_of_week,
    cast(segment as {{ dbt.type_string() }})                                      as segment,
    cast(network as {{ dbt.type_string() }})                                      as network,
    cast(sessions as bigint)                                      as sessions,
    cast(engaged_sessions as bigint)                              as engaged_sessions,
    cast(1 - {{ safe_divide('engaged_sessions', 'sessions') }} as {{ type_double() }}) as bounce_rate,
    cast(key_events as bigint)                                    as key_events,
    cast(leads_created as bigint)                                 as leads_created,
    cast({{ safe_divide('sessions', 'sum(sessions) over (partition by activity_date)') }} as {{ type_double() }}) as share_of_sessions
from joined
