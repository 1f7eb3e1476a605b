{{ config(meta={'dagster': {'ref': {'name': 'funnel_by_segment'}}}) }}
-- Stages are monotone (DEFINITIONS.md "Stages of a person"), checked per person where the
-- dates are made (int_person_stages) rather than on funnel counts, which could not rise anyway:
--   * a later stage implies every earlier one;
--   * dates never decrease along mql <= sql <= opportunity <= won;
--   * nothing is dated after as_of;
--   * an inferred stage carries the next stage's date;
-- and funnel_by_segment counts each stage from exactly these dates (no person lost or doubled
-- between int_person_stages and the funnel).
{#- Reads several models: Dagster shows it as an asset check of funnel_by_segment, the mart it guards
    (without this, dagster-dbt logs an observation and a warning instead of a check). -#}
{{ config(meta={'dagster': {'ref': {'name': 'funnel_by_segment'}}}) }}
with stages as (
    select * from {{ ref('int_person_stages') }}
),

person_violations as (
    select person_key, 'later stage without an earlier one' as what
    from stages
    where (won_date is not null and opportunity_date is null)
       or (opportunity_date is not null and sql_date is null)
       or (sql_date is not null and mql_date is null)
    union all
    select person_key, 'stage dates decrease'
    from stages
    where mql_date > sql_date or sql_date > opportunity_date or opportunity_date > won_date
    union all
    select person_key, 'stage dated after as_of'
    from stages
    where mql_date > {{ as_of_date() }} or sql_date > {{ as_of_date() }}
       or opportunity_date > {{ as_of_date() }} or won_date > {{ as_of_date() }}
    union all
    select person_key, 'inferred stage not dated by the next stage'
    from stages
    where (is_mql_inferred and (sql_date is null or mql_date <> sql_date))
       or (is_sql_inferred and (opportunity_date is null or sql_date <> opportunity_date))
       or (is_opportunity_inferred and (won_date is null or opportunity_date <> won_date))
),

stage_totals as (
    select
        count(*)                 as leads,
        count(mql_date)          as mqls,
        count(sql_date)          as sqls,
        count(opportunity_date)  as opportunities,
        count(won_date)          as won
    from stages
    where lead_date <= {{ as_of_date() }}
),

funnel_totals as (
    select
        period_grain,
        sum(leads) as leads, sum(mqls) as mqls, sum(sqls) as sqls,
        sum(opportunities) as opportunities, sum(won) as won
    from {{ ref('funnel_by_segment') }}
    group by period_grain
)

select person_key, what from person_violations
union all
select 'funnel_by_segment ' || f.period_grain, 'stage counts differ from int_person_stages'
from funnel_totals as f
cross join stage_totals as s
where f.leads <> s.leads or f.mqls <> s.mqls or f.sqls <> s.sqls
   or f.opportunities <> s.opportunities or f.won <> s.won
