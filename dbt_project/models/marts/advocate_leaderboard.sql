{#- Per period x advocate (DEFINITIONS.md "Advocates and reps"):
    posts / clicks / engagements (likes + comments + shares) of the platform export by the
    post's posted date; sessions / engaged_sessions of advocacy GA4 rows carrying the advocate
    id (every visitor row, '(not set)' included) by date; leads_sourced / mqls_sourced: people
    whose sourcing touch is the advocate's, by lead period (mqls_sourced = those of them with an
    MQL date); opportunities / pipeline / won influenced: opportunities created in the period
    with at least one of the advocate's touches in their window (full amounts).
    top_post_platform + top_post_id / top_network: most clicks in the period (ties: platform
    and id / name); a post is keyed by (platform, post_id), two platforms may number alike. -#}
with posts as (
    select * from {{ ref('int_advocacy_posts') }}
),

post_periods as (
    {{ fan_out_periods('posts', 'posts.activity_date') }}
),

post_totals as (
    select period_grain, period_start, advocate_id,
           count(*) as posts, sum(clicks) as clicks, sum(engagements) as engagements
    from post_periods
    group by period_grain, period_start, advocate_id
),

top_post as (
    select period_grain, period_start, advocate_id, platform as top_post_platform, post_id as top_post_id
    from (
        select period_grain, period_start, advocate_id, platform, post_id,
               row_number() over (partition by period_grain, period_start, advocate_id
                                  order by clicks desc, platform, post_id) as pick
        from post_periods
    ) as ranked
    where pick = 1
),

top_network as (
    select period_grain, period_start, advocate_id, network as top_network
    from (
        select period_grain, period_start, advocate_id, network,
               row_number() over (partition by period_grain, period_start, advocate_id
                                  order by sum(clicks) desc, network) as pick
        from post_periods
        group by period_grain, period_start, advocate_id, network
    ) as ranked
    where pick = 1
),

sessions as (
    select advocate_id, touch_date as activity_date, sessions, engaged_sessions
    from {{ ref('int_ga4_sessions') }}
    where segment = 'advocacy' and advocate_id is not null
),

session_periods as (
    {{ fan_out_periods('sessions', 'sessions.activity_date') }}
),

session_totals as (
    select period_grain, period_start, advocate_id,
           sum(sessions) as sessions, sum(engaged_sessions) as engaged_sessions
    from session_periods
    group by period_grain, period_start, advocate_id
),

sourced as (
    select s.sourcing_advocate_id as advocate_id, s.lead_date as activity_date,
           case when st.mql_date is not null then 1 else 0 end as is_mql
    from {{ ref('int_person_segments') }} as s
    inner join {{ ref('int_person_stages') }} as st on st.person_key = s.person_key
    where s.segment = 'advocacy' and s.sourcing_advocate_id is not null
),

sourced_periods as (
    {{ fan_out_periods('sourced', 'sourced.activity_date') }}
),

sourced_totals as (
    select period_grain, period_start, advocate_id,
           count(*) as leads_sourced, sum(is_mql) as mqls_sourced
    from sourced_periods
    group by period_grain, period_start, advocate_id
),

influenced as (
    select distinct t.advocate_id, o.opportunity_id, o.created_date as activity_date, o.amount, o.won_amount
    from {{ ref('int_opportunity_touches') }} as t
    inner join {{ ref('int_opportunity_summary') }} as o on o.opportunity_id = t.opportunity_id
    where t.segment = 'advocacy' and t.advocate_id is not null
),

influenced_periods as (
    {{ fan_out_periods('influenced', 'influenced.activity_date') }}
),

influenced_totals as (
    select period_grain, period_start, advocate_id,
           count(*) as opportunities_influenced,
           sum(amount) as pipeline_influenced,
           sum(won_amount) as won_influenced
    from influenced_periods
    group by period_grain, period_start, advocate_id
),

grid as (
    select period_grain, period_start, advocate_id from post_totals
    union
    select period_grain, period_start, advocate_id from session_totals
    union
    select period_grain, period_start, advocate_id from sourced_totals
    union
    select period_grain, period_start, advocate_id from influenced_totals
),

joined as (
    select
        g.period_grain,
        g.period_start,
        g.advocate_id,
        a.advocate_name,
        a.team,
        coalesce(p.posts, 0)                    as posts,
        coalesce(p.clicks, 0)                   as clicks,
        coalesce(p.engagements, 0)              as engagements,
        coalesce(s.sessions, 0)                 as sessions,
        coalesce(s.engaged_sessions, 0)         as engaged_sessions,
        coalesce(l.leads_sourced, 0)            as leads_sourced,
        coalesce(l.mqls_sourced, 0)             as mqls_sourced,
        coalesce(i.opportunities_influenced, 0) as opportunities_influenced,
        coalesce(i.pipeline_influenced, 0)      as pipeline_influenced,
        coalesce(i.won_influenced, 0)           as won_influenced,
        tp.top_post_platform,
        tp.top_post_id,
        tn.top_network
    from grid as g
    left join {{ ref('int_advocates') }} as a on a.advocate_id = g.advocate_id
    left join post_totals as p
        on p.period_grain = g.period_grain and p.period_start = g.period_start and p.advocate_id = g.advocate_id
    left join session_totals as s
        on s.period_grain = g.period_grain and s.period_start = g.period_start and s.advocate_id = g.advocate_id
    left join sourced_totals as l
        on l.period_grain = g.period_grain and l.period_start = g.period_start and l.advocate_id = g.advocate_id
    left join influenced_totals as i
        on i.period_grain = g.period_grain and i.period_start = g.period_start and i.advocate_id = g.advocate_id
    left join top_post as tp
        on tp.period_grain = g.period_grain and tp.period_start = g.period_start and tp.advocate_id = g.advocate_id
    left join top_network as tn
        on tn.period_grain = g.period_grain and tn.period_start = g.period_start and tn.advocate_id = g.advocate_id
)

select
    cast(period_grain as {{ dbt.type_string() }})              as period_grain,
    cast(period_start as date)                 as period_start,
    cast(advocate_id as {{ dbt.type_string() }})               as advocate_id,
    cast(coalesce(advocate_name, advocate_id) as {{ dbt.type_string() }}) as advocate_name,
    cast(team as {{ dbt.type_string() }})                      as team,
    cast(posts as bigint)                      as posts,
    cast(clicks as bigint)                     as clicks,
    cast(engagements as bigint)                as engagements,
    cast(sessions as bigint)                   as sessions,
    cast(engaged_sessions as bigint)           as engaged_sessions,
    cast(leads_sourced as bigint)              as leads_sourced,
    cast(mqls_sourced as bigint)               as mqls_sourced,
    cast(opportunities_influenced as bigint)   as opportunities_influenced,
    cast(pipeline_influenced as {{ type_double() }})        as pipeline_influenced,
    cast(won_influenced as {{ type_double() }})             as won_influenced,
    cast(rank() over (partition by period_grain, period_start order by clicks desc) as bigint)              as rank_by_clicks,
    cast(rank() over (partition by period_grain, period_start order by pipeline_influenced desc) as bigint) as rank_by_pipeline,
    cast(top_post_platform as {{ dbt.type_string() }})         as top_post_platform,
    cast(top_post_id as {{ dbt.type_string() }})               as top_post_id,
    cast(top_network as {{ dbt.type_string() }})               as top_network
from joined
