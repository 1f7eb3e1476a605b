{#- A person's touches (DEFINITIONS.md "Touches"): grain person x touch.
    * GA4: every GA4 touch (known visitor id, dated <= as_of) whose visitor id is one of the
      person's visitor ids.
    * synthetic: for a person with no GA4 touch at all, one touch at the person's lead date from
      the CRM's original source: the utm_* parameters of hs_analytics_first_url of the person's
      earliest HubSpot contact whose first URL has any (ties: record key), else the Salesforce
      UTM_*__c fields of the person's earliest lead/contact having UTM_Medium__c or
      UTM_Source__c (ties: record key). touch_id = md5('synthetic|' || person_key).
      Classified by the same rules.
    * salesforce_campaign: every responded Salesforce campaign member (HasResponded, a
      FirstRespondedDate <= as_of) of one of the person's leads or contacts, dated by its
      FirstRespondedDate; touch_id = md5('sf_campaign|' || campaign member id); channel
      salesforce_campaign, segment other (a campaign names no advocate or post). Credited by
      the attribution models; never a lead's sourcing touch (int_person_segments). -#}
with

ga as (
    select
        v.person_key,
        g.touch_id,
        g.touch_date,
        'ga4'            as touch_source,
        g.utm_source, g.utm_medium, g.utm_campaign, g.utm_content, g.utm_term,
        g.segment, g.channel, g.rule_id, g.advocate_id, g.post_id, g.network,
        g.sessions
    from {{ ref('int_ga4_sessions') }} as g
    inner join {{ ref('int_person_visitors') }} as v
        on v.visitor_id = trim(g.visitor_id)
    where g.is_person_touch
),

people_without_ga as (
    select p.person_key, p.lead_date
    from {{ ref('int_people') }} as p
    where not exists (select 1 from ga where ga.person_key = p.person_key)
),

hubspot_urls as (
    select
        r.person_key,
        r.record_key,
        r.created_at,
        {{ regexp_extract('r.analytics_first_url', '^[^?#]*[?]([^#]*)', 1) }} as query_string
    from {{ ref('int_person_records') }} as r
    where r.record_type = 'hubspot'
      and r.analytics_first_url is not null
),

{#- utm_* parameters of the query string: the first occurrence of each key (matched
    case-insensitively, whitespace around it allowed), its value as written. POSIX regexes
    only (no (?i), (?:...) or \s), so every adapter's regexp_extract reads them alike. -#}
{%- set space = '[[:space:]]*' -%}
{%- set utm_keys = ['source', 'medium', 'campaign', 'content', 'term'] -%}
{%- set key_alternatives = [] -%}
{%- for key in utm_keys -%}{%- do key_alternatives.append(ci_regex(key)) -%}{%- endfor -%}
hubspot_candidates as (
    select
        person_key,
        {%- for key in utm_keys %}
        {{ regexp_extract('query_string', '(^|&)' ~ space ~ ci_regex('utm_' ~ key) ~ space ~ '=([^&]*)', 2) }} as utm_{{ key }},
        {%- endfor %}
        row_number() over (partition by person_key order by created_at, record_key) as pick
    from hubspot_urls
    where query_string is not null
      and {{ regexp_matches('query_string', '(^|&)' ~ space ~ ci_regex('utm_') ~ '('
                            ~ key_alternatives | join('|') ~ ')' ~ space ~ '(=|&|$)') }}
),

salesforce_candidates as (
    select
        person_key,
        utm_source, utm_medium, utm_campaign, utm_content, utm_term,
        row_number() over (partition by person_key order by created_at, record_key) as pick
    from {{ ref('int_person_records') }}
    where record_type in ('sf_lead', 'sf_contact')
      and (nullif(trim(utm_medium), '') is not null or nullif(trim(utm_source), '') is not null)
),

synthetic_src as (
    select
        p.person_key,
        {{ dbt.hash("'synthetic|' || p.person_key") }} as touch_id,
        p.lead_date                                   as touch_date,
        case when h.person_key is not null then h.utm_source   else s.utm_source   end as utm_source,
        case when h.person_key is not null then h.utm_medium   else s.utm_medium   end as utm_medium,
        case when h.person_key is not null then h.utm_campaign else s.utm_campaign end as utm_campaign,
        case when h.person_key is not null then h.utm_content  else s.utm_content  end as utm_content,
        case when h.person_key is not null then h.utm_term     else s.utm_term     end as utm_term
    from people_without_ga as p
    left join hubspot_candidates as h on h.person_key = p.person_key and h.pick = 1
    left join salesforce_candidates as s on s.person_key = p.person_key and s.pick = 1
    where h.person_key is not null or s.person_key is not null
),

{{ classify_utms('synthetic_src') }},

responded_members as (
    select campaign_member_id, campaign_id, lead_id, contact_id, first_responded_date
    from {{ ref('stg_salesforce__campaign_members') }}
    where has_responded
      and first_responded_date is not null
      and first_responded_date <= {{ as_of_date() }}
),

{#- a member is a lead's or a contact's: two equality joins (an OR of the two in one join
    condition cannot be a hash join and compares every member with every record) -#}
member_people as (
    select r.person_key, m.campaign_member_id, m.campaign_id, m.first_responded_date
    from responded_members as m
    inner join {{ ref('int_person_records') }} as r
        on r.record_type = 'sf_lead' and r.source_id = m.lead_id
    union all
    select r.person_key, m.campaign_member_id, m.campaign_id, m.first_responded_date
    from responded_members as m
    inner join {{ ref('int_person_records') }} as r
        on r.record_type = 'sf_contact' and r.source_id = m.contact_id
),

campaign_touches as (
    select distinct
        mp.person_key,
        {{ dbt.hash("'sf_campaign|' || mp.campaign_member_id") }} as touch_id,
        mp.first_responded_date                                   as touch_date,
        c.campaign_name,
        c.campaign_type
    from member_people as mp
    left join {{ ref('stg_salesforce__campaigns') }} as c on c.campaign_id = mp.campaign_id
)

select * from ga
union all
select
    person_key,
    touch_id,
    touch_date,
    'crm_original_source' as touch_source,
    utm_source, utm_medium, utm_campaign, utm_content, utm_term,
    segment, channel, rule_id, advocate_id, post_id, network,
    cast(0 as bigint)     as sessions
from synthetic_src_classified
union all
select
    person_key,
    touch_id,
    touch_date,
    'salesforce_campaign'  as touch_source,
    'salesforce'           as utm_source,
    campaign_type          as utm_medium,
    campaign_name          as utm_campaign,
    cast(null as {{ dbt.type_string() }})  as utm_content,
    cast(null as {{ dbt.type_string() }})  as utm_term,
    'other'                as segment,
    'salesforce_campaign'  as channel,
    cast(null as {{ dbt.type_string() }})  as rule_id,
    cast(null as {{ dbt.type_string() }})  as advocate_id,
    cast(null as {{ dbt.type_string() }})  as post_id,
    cast(null as {{ dbt.type_string() }})  as network,
    cast(0 as bigint)      as sessions
from campaign_touches
