{#- Input of the snapshot funnel_by_segment_reported: each fiscal quarter's funnel *as
    reported*, i.e. computed as of the quarter's reporting date (reported_on = its last day +
    maturity_days, macro quarter_reported_on) from the data known now. Only quarters reported
    by as_of, and only on a reporting run (as_of = the last complete day, macro
    is_reporting_run); otherwise empty, and the snapshot writes nothing.

    A stage dated after reported_on is left out: the cohort's growth after its reporting date
    (late MQLs, later wins) never changes these numbers, so a new snapshot version means the
    data of the quarter up to its reporting date was corrected: a restatement. (The stage
    dates are already monotone: a stage's date is the minimum over it and the later stages,
    so cutting them at reported_on gives exactly what a run with as_of = reported_on
    counted.) won_amount: won opportunities closed by reported_on whose earliest linked lead
    is in the cohort, rounded to cents so floating noise never opens a version. -#}
{{ config(materialized=long_view_materialization()) }}
with people as (
    select
        s.segment,
        {{ period_start('st.lead_date', 'quarter') }} as period_start,
        st.mql_date,
        st.sql_date,
        st.opportunity_date,
        st.won_date
    from {{ ref('int_person_segments') }} as s
    inner join {{ ref('int_person_stages') }} as st on st.person_key = s.person_key
    where st.lead_date <= {{ as_of_date() }}
),

quarters as (
    select distinct period_start, {{ quarter_reported_on('period_start') }} as reported_on
    from people
    where {{ quarter_reported_on('period_start') }} <= {{ as_of_date() }}
      and {{ 'true' if is_reporting_run() else 'false' }}
),

segments as (
    select distinct segment from people
),

counts as (
    select
        p.period_start,
        p.segment,
        count(*)                                                          as leads,
        count(case when p.mql_date <= q.reported_on then 1 end)           as mqls,
        count(case when p.sql_date <= q.reported_on then 1 end)           as sqls,
        count(case when p.opportunity_date <= q.reported_on then 1 end)   as opportunities,
        count(case when p.won_date <= q.reported_on then 1 end)           as won
    from people as p
    inner join quarters as q on q.period_start = p.period_start
    group by p.period_start, p.segment
),

won_amounts as (
    select
        q.period_start,
        s.segment,
        sum(o.amount) as won_amount
    from {{ ref('int_opportunity_summary') }} as o
    inner join {{ ref('int_person_segments') }} as s on s.person_key = o.lead_person_key
    inner join quarters as q on q.period_start = {{ period_start('s.lead_date', 'quarter') }}
    where o.is_won
      and o.close_date <= q.reported_on
    group by q.period_start, s.segment
)

select
    cast(q.period_start as {{ dbt.type_string() }}) || '|' || g.segment   as snapshot_key,
    cast(q.period_start as date)                          as period_start,
    cast(q.reported_on as date)                           as reported_on,
    cast(g.segment as {{ dbt.type_string() }})                            as segment,
    cast(coalesce(c.leads, 0) as bigint)                  as leads,
    cast(coalesce(c.mqls, 0) as bigint)                   as mqls,
    cast(coalesce(c.sqls, 0) as bigint)                   as sqls,
    cast(coalesce(c.opportunities, 0) as bigint)          as opportunities,
    cast(coalesce(c.won, 0) as bigint)                    as won,
    cast({{ round_to("coalesce(w.won_amount, 0)", 2) }} as {{ type_double() }}) as won_amount
from quarters as q
cross join segments as g
left join counts as c on c.period_start = q.period_start and c.segment = g.segment
left join won_amounts as w on w.period_start = q.period_start and w.segment = g.segment
