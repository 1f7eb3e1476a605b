with live as (
    {{ live_latest(source('salesforce', 'campaign_member'), 'id', '_synced_at desc, system_modstamp desc', ['is_deleted']) }}
)

select
    id                              as campaign_member_id,
    campaign_id,
    nullif(trim(lead_id), '')       as lead_id,
    nullif(trim(contact_id), '')    as contact_id,
    status,
    coalesce(has_responded, false)  as has_responded,
    first_responded_date,
    created_date                    as created_at,
    _synced_at                      as synced_at
from live
