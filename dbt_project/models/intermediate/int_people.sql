{#- One row per person (the identity of int_person_records). lead_created_at = the earliest
    creation of any of its records; lead_date = its date in the reporting time zone.
    Names and emails never leave this layer: marts carry person_key (an md5) only. -#}
select
    person_key,
    min(root_record_key)                                              as root_record_key,
    min(created_at)                                                   as lead_created_at,
    {{ to_reporting_date('min(created_at)') }}                        as lead_date,
    count(*)                                                          as n_records,
    sum(case when record_type = 'hubspot' then 1 else 0 end)          as n_hubspot_contacts,
    sum(case when record_type = 'sf_lead' then 1 else 0 end)          as n_salesforce_leads,
    sum(case when record_type = 'sf_contact' then 1 else 0 end)       as n_salesforce_contacts,
    count(distinct ga_client_id)                                      as n_visitor_ids,
    min(email_normalized)                                             as email_normalized
from {{ ref('int_person_records') }}
group by person_key
