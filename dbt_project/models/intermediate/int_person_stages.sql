{#- Funnel stages of a person (DEFINITIONS.md "Stages of a person"), all dates in the reporting
    time zone, anything after as_of absent:
      lead = lead_date;
      MQL / SQL = earliest of the HubSpot lifecycle dates (hs_lifecyclestage_*_date and
        hs_v2_date_entered_*) of its contacts and the Salesforce LeadHistory Status changes of
        its leads into a status the seed salesforce_lead_status_mapping maps to that stage;
      opportunity = earliest created_date of its (reportable) opportunities;
      won = earliest close_date of its won opportunities;
      (for both, a person linked to the opportunity later, a contact role added or a lead
      converted after that date, reaches the stage on the day of the link: linked_date of
      int_opportunity_people).
    Monotone: from won backwards each stage date = min(own date, next stage's date); a stage
    with no own date but a later stage gets the later date and is_<stage>_inferred. The lead
    date itself is the cohort anchor and is not moved. -#}
{#- Each input is read once: a contact's four lifecycle dates, a LeadHistory row and an
    opportunity link each give one row of per-stage dates (null where they date no stage), and
    one aggregation takes the earliest per person. -#}

with hubspot_events as (
    select
        r.person_key,
        {{ least_not_null(on_or_before_as_of(to_reporting_date('c.lifecyclestage_mql_at')),
                          on_or_before_as_of(to_reporting_date('c.entered_mql_at'))) }} as mql_date,
        {{ least_not_null(on_or_before_as_of(to_reporting_date('c.lifecyclestage_sql_at')),
                          on_or_before_as_of(to_reporting_date('c.entered_sql_at'))) }} as sql_date,
        cast(null as date) as opportunity_date,
        cast(null as date) as won_date
    from {{ ref('stg_hubspot__contacts') }} as c
    inner join {{ ref('int_person_records') }} as r on r.record_key = 'hubspot:' || c.contact_id
),

salesforce_events as (
    select
        r.person_key,
        case when m.stage = 'mql' then {{ on_or_before_as_of(to_reporting_date('h.created_at')) }} end as mql_date,
        case when m.stage = 'sql' then {{ on_or_before_as_of(to_reporting_date('h.created_at')) }} end as sql_date,
        cast(null as date) as opportunity_date,
        cast(null as date) as won_date
    from {{ ref('stg_salesforce__lead_history') }} as h
    inner join {{ ref('salesforce_lead_status_mapping') }} as m
        on {{ normalize_label('m.status') }} = {{ normalize_label('h.new_value') }}
    inner join {{ ref('int_person_records') }} as r on r.record_key = 'sf_lead:' || h.lead_id
    where lower(h.field) = 'status'
),

opportunity_events as (
    select
        op.person_key,
        cast(null as date) as mql_date,
        cast(null as date) as sql_date,
        {{ on_or_before_as_of(greatest_not_null('o.created_date', 'op.linked_date')) }} as opportunity_date,
        case when o.is_won then {{ on_or_before_as_of(greatest_not_null('o.close_date', 'op.linked_date')) }} end
            as won_date
    from {{ ref('int_opportunity_people') }} as op
    inner join {{ ref('int_opportunities') }} as o on o.opportunity_id = op.opportunity_id
),

own as (
    select
        person_key,
        min(mql_date)         as mql_own_date,
        min(sql_date)         as sql_own_date,
        min(opportunity_date) as opportunity_own_date,
        min(won_date)         as won_own_date
    from (
        select * from hubspot_events
        union all
        select * from salesforce_events
        union all
        select * from opportunity_events
    ) as events
    group by person_key
),

monotone_won as (
    select
        p.person_key,
        p.lead_date,
        o.mql_own_date,
        o.sql_own_date,
        o.opportunity_own_date,
        o.won_own_date,
        o.won_own_date as won_date
    from {{ ref('int_people') }} as p
    left join own as o on o.person_key = p.person_key
),

monotone_opportunity as (
    select *, {{ least_not_null('opportunity_own_date', 'won_date') }} as opportunity_date
    from monotone_won
),

monotone_sql as (
    select *, {{ least_not_null('sql_own_date', 'opportunity_date') }} as sql_date
    from monotone_opportunity
),

monotone_mql as (
    select *, {{ least_not_null('mql_own_date', 'sql_date') }} as mql_date
    from monotone_sql
)

select
    person_key,
    lead_date,
    mql_date,
    sql_date,
    opportunity_date,
    won_date,
    mql_own_date is null and mql_date is not null                 as is_mql_inferred,
    sql_own_date is null and sql_date is not null                 as is_sql_inferred,
    opportunity_own_date is null and opportunity_date is not null as is_opportunity_inferred
from monotone_mql
