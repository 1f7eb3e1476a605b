with live as (
    {{ live_latest(source('salesforce', 'contact'), 'id', '_synced_at desc, system_modstamp desc', ['is_deleted']) }}
)

select
    id                                          as contact_id,
    nullif(trim(email), '')                     as email,
    {{ normalize_email('email') }}              as email_normalized,
    first_name,
    last_name,
    account_id,
    owner_id,
    lead_source,
    master_record_id,
    nullif(trim(ga_client_id_c), '')            as ga_client_id,
    utm_source_c                                as utm_source,
    utm_medium_c                                as utm_medium,
    utm_campaign_c                              as utm_campaign,
    utm_content_c                               as utm_content,
    utm_term_c                                  as utm_term,
    nullif(upper(trim(currency_iso_code)), '')  as currency_code,
    created_date                                as created_at,
    _synced_at                                  as synced_at
from live
