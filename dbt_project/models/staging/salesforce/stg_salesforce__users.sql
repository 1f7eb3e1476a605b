with live as (
    {{ live_latest(source('salesforce', 'user'), 'id', '_synced_at desc, system_modstamp desc') }}
)

select
    id                               as user_id,
    username,
    name                             as user_name,
    first_name,
    last_name,
    nullif(trim(email), '')          as email,
    {{ normalize_email('email') }}   as email_normalized,
    coalesce(is_active, false)       as is_active,
    user_type,
    title,
    department,
    created_date                     as created_at,
    _synced_at                       as synced_at
from live
