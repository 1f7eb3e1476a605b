{#- People linked to an opportunity (DEFINITIONS.md): Salesforce contact roles and the lead
    converted into it; for HubSpot-only deals the deal -> contact associations. Records are
    mapped to their persons (int_person_records). Nothing dated after as_of links: a contact
    role created after it, a lead converted (ConvertedDate) after it. HubSpot associations
    carry no date and always link. linked_date: the day the person became linked (the role's
    creation, the lead's conversion; null for an undated link, or when any of the person's
    links to the opportunity is undated): a person reaches the opportunity (and won) stage no
    earlier than that day (int_person_stages), so a colleague added to a deal after a quarter
    was reported is growth after the reporting date, not a change of what was reported.
    Reportable opportunities only (known currency). is_earliest_lead marks the linked person with the earliest lead_created_at
    (ties: person_key): the opportunity's "lead", which decides its sourced segment. -#}
with opps as (
    select opportunity_id, source_system
    from {{ ref('int_opportunities') }}
    where is_currency_known
),

record_links as (
    select ocr.opportunity_id, 'sf_contact:' || ocr.contact_id as record_key, 'contact_role' as link_type,
           {{ to_reporting_date('ocr.created_at') }} as link_date
    from {{ ref('stg_salesforce__opportunity_contact_roles') }} as ocr
    where ocr.created_at is null or {{ to_reporting_date('ocr.created_at') }} <= {{ as_of_date() }}
    union all
    select l.converted_opportunity_id, 'sf_lead:' || l.lead_id, 'converted_lead', l.converted_date
    from {{ ref('stg_salesforce__leads') }} as l
    where l.converted_opportunity_id is not null
      and (l.converted_date is null or l.converted_date <= {{ as_of_date() }})
    union all
    select 'hubspot:' || a.deal_id, 'hubspot:' || a.contact_id, 'deal_association', cast(null as date)
    from {{ ref('stg_hubspot__deal_contact_associations') }} as a
),

linked as (
    select
        o.opportunity_id,
        r.person_key,
        min(rl.link_type) as link_type,
        case when count(*) = count(rl.link_date) then min(rl.link_date) end as linked_date
    from opps as o
    inner join record_links as rl
        on rl.opportunity_id = o.opportunity_id
       and ((o.source_system = 'salesforce' and rl.link_type <> 'deal_association')
         or (o.source_system = 'hubspot' and rl.link_type = 'deal_association'))
    inner join {{ ref('int_person_records') }} as r on r.record_key = rl.record_key
    group by o.opportunity_id, r.person_key
)

select
    l.opportunity_id,
    l.person_key,
    l.link_type,
    l.linked_date,
    s.lead_created_at,
    s.lead_date,
    s.segment,
    s.sourcing_touch_id,
    row_number() over (
        partition by l.opportunity_id order by s.lead_created_at, l.person_key
    ) = 1 as is_earliest_lead
from linked as l
inner join {{ ref('int_person_segments') }} as s on s.person_key = l.person_key
