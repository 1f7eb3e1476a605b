{#- The visitor ids of a person: every non-empty HubSpot ga_client_id and Salesforce
    GA_Client_ID__c of its records, trimmed. A visitor id shared by two people belongs to both. -#}
select distinct
    person_key,
    trim(ga_client_id) as visitor_id
from {{ ref('int_person_records') }}
where ga_client_id is not null
  and trim(ga_client_id) <> ''
