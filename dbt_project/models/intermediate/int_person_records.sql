{#- Identity (DEFINITIONS.md "People"): every live person record (HubSpot contact, Salesforce
    lead, Salesforce contact) created up to as_of, and the person it belongs to.
    int_identity_records (the records) -> int_identity_emails (which emails may link) ->
    int_identity_edges (the links) -> int_identity_components (union-find) -> here.
    person_key = md5 of the smallest member id written as hubspot:<id> / sf_lead:<id> / sf_contact:<id>. -#}
select
    r.record_key,
    r.record_type,
    r.source_id,
    c.root_record_key,
    {{ dbt.hash('c.root_record_key') }}   as person_key,
    r.email_normalized,
    r.ga_client_id,
    r.created_at,
    r.analytics_first_url,
    r.utm_source,
    r.utm_medium,
    r.utm_campaign,
    r.utm_content,
    r.utm_term
from {{ ref('int_identity_records') }} as r
inner join {{ ref('int_identity_components') }} as c on c.record_key = r.record_key
