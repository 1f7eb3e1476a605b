{#- Opportunities (DEFINITIONS.md): Salesforce owns them. A live HubSpot deal carrying a
    salesforceopportunityid is the same opportunity and is dropped; one without is its own
    (opportunity_id = 'hubspot:<deal id>'). Only opportunities created by as_of; a close after
    as_of counts as not (yet) closed. Amounts in the reporting currency at the dated cross rate
    of min(close date, as_of) - as_of without a close date: no rate of a later day was known
    on as_of (see macro convert_to_reporting); an unknown currency is flagged
    (is_currency_known = false) and every downstream model excludes it. Null amount -> 0. -#}
with salesforce as (
    select
        o.opportunity_id                          as row_id,
        o.opportunity_id,
        'salesforce'                              as source_system,
        o.opportunity_name,
        o.account_id,
        o.created_at,
        {{ to_reporting_date('o.created_at') }}   as created_date,
        o.close_date,
        o.is_won,
        o.is_closed,
        o.stage_name,
        coalesce(o.amount, 0)                     as amount_original,
        o.currency_code,
        o.owner_id                                as owner_user_id
    from {{ ref('stg_salesforce__opportunities') }} as o
),

hubspot as (
    select
        'hubspot:' || d.deal_id                   as row_id,
        'hubspot:' || d.deal_id                   as opportunity_id,
        'hubspot'                                 as source_system,
        d.deal_name                               as opportunity_name,
        cast(null as {{ dbt.type_string() }})                     as account_id,
        d.created_at,
        {{ to_reporting_date('d.created_at') }}   as created_date,
        {{ to_reporting_date('d.closed_at') }}    as close_date,
        d.is_closed_won                           as is_won,
        d.is_closed                               as is_closed,
        d.deal_stage                              as stage_name,
        coalesce(d.amount, 0)                     as amount_original,
        d.currency_code,
        u.user_id                                 as owner_user_id
    from {{ ref('stg_hubspot__deals') }} as d
    left join {{ ref('stg_hubspot__owners') }} as ow on ow.owner_id = d.owner_id
    left join (
        select email_normalized, min(user_id) as user_id
        from {{ ref('stg_salesforce__users') }}
        where email_normalized is not null
        group by email_normalized
    ) as u on u.email_normalized = ow.email_normalized
    where d.salesforce_opportunity_id is null
),

unified as (
    select * from salesforce
    union all
    select * from hubspot
),

in_scope as (
    select
        unified.*,
        case when close_date is null or close_date > {{ as_of_date() }} then {{ as_of_date() }}
             else close_date end                  as rate_date
    from unified
    where created_at is not null
      and created_date <= {{ as_of_date() }}
),

{{ convert_to_reporting('in_scope', 'currency_code', 'rate_date') }}

select
    opportunity_id,
    source_system,
    opportunity_name,
    account_id,
    created_at,
    created_date,
    close_date,
    coalesce(is_won, false)
        and close_date is not null and close_date <= {{ as_of_date() }}           as is_won,
    (coalesce(is_closed, false) or coalesce(is_won, false))
        and close_date is not null and close_date <= {{ as_of_date() }}           as is_closed,
    stage_name,
    amount_original,
    coalesce(currency_code, '{{ reporting_currency() }}')                          as currency_code,
    conversion_rate,
    is_currency_known,
    case when is_currency_known then amount_original / conversion_rate end        as amount,
    owner_user_id
from in_scope_converted
