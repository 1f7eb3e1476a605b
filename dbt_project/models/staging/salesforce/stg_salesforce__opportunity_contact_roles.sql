with live as (
    {{ live_latest(source('salesforce', 'opportunity_contact_role'), 'id', '_synced_at desc, system_modstamp desc', ['is_deleted']) }}
)

select
    id                          as opportunity_contact_role_id,
    opportunity_id,
    contact_id,
    role,
    coalesce(is_primary, false) as is_primary,
    created_date                as created_at,
    _synced_at                  as synced_at
from live
