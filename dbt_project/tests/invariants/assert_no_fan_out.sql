{{ config(meta={'dagster': {'ref': {'name': 'attribution_credit'}}}) }}
-- No fan-out: joins that could multiply rows preserve the sums they carry.
--   * attribution_credit has exactly the rows of int_attribution_weights;
--   * one person per identity record (people are counted once in the funnel);
--   * advocacy_value (posts x the network_values row valid on each post's date, then the row
--     valid at period start): clicks and engagements per grain = those of int_advocacy_posts,
--     advocacy sessions per grain = those of int_ga4_traffic (overlapping value windows would
--     double them; the seed's windows are tested by assert_network_values_windows_disjoint);
--   * int_touches (GA4 rows x int_person_visitors): the sessions of its GA4 touches = each
--     person-touch GA4 row's sessions times the number of distinct people carrying its visitor
--     id (a visitor id shared by two people belongs to both, DEFINITIONS.md) - no more.
{#- Reads several models: Dagster shows it as an asset check of attribution_credit, the mart it guards
    (without this, dagster-dbt logs an observation and a warning instead of a check). -#}
{{ config(meta={'dagster': {'ref': {'name': 'attribution_credit'}}}) }}
with posts as (
    select sum(clicks) as clicks, sum(engagements) as engagements
    from {{ ref('int_advocacy_posts') }}
),

advocacy_traffic as (
    select sum(sessions) as sessions
    from {{ ref('int_ga4_traffic') }}
    where segment = 'advocacy'
),

value_totals as (
    select period_grain, sum(clicks) as clicks, sum(engagements) as engagements,
           sum(advocacy_sessions) as advocacy_sessions
    from {{ ref('advocacy_value') }}
    group by period_grain
),

visitor_people as (
    select visitor_id, count(distinct person_key) as n_people
    from {{ ref('int_person_visitors') }}
    group by visitor_id
),

expected_touch_sessions as (
    select coalesce(sum(g.sessions * v.n_people), 0) as sessions, coalesce(sum(v.n_people), 0) as n_rows
    from {{ ref('int_ga4_sessions') }} as g
    inner join visitor_people as v on v.visitor_id = trim(g.visitor_id)
    where g.is_person_touch
),

touch_sessions as (
    select coalesce(sum(sessions), 0) as sessions, count(*) as n_rows
    from {{ ref('int_touches') }}
    where touch_source = 'ga4'
)

select 'attribution_credit' as what
from (select count(*) as n from {{ ref('attribution_credit') }}) as a
cross join (select count(*) as n from {{ ref('int_attribution_weights') }}) as w
where a.n <> w.n
union all
select 'funnel_leads'
from (select sum(leads) as n from {{ ref('funnel_by_segment') }} where period_grain = 'month') as f
cross join (select count(*) as n from {{ ref('int_people') }} where lead_date <= {{ as_of_date() }}) as p
where f.n <> p.n
union all
select 'advocacy_value ' || v.period_grain
from value_totals as v
cross join posts as p
cross join advocacy_traffic as t
where v.clicks <> coalesce(p.clicks, 0)
   or v.engagements <> coalesce(p.engagements, 0)
   or v.advocacy_sessions <> coalesce(t.sessions, 0)
union all
select 'int_touches ga4 x visitors'
from touch_sessions as t
cross join expected_touch_sessions as e
where t.sessions <> e.sessions or t.n_rows <> e.n_rows
