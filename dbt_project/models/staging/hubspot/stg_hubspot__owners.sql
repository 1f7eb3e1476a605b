with live as (
    {{ live_latest(source('hubspot', 'owners'), 'id', '_synced_at desc, updated_at desc', ['archived']) }}
)

select
    cast(id as {{ dbt.type_string() }})                      as owner_id,
    nullif(trim(email), '')                  as email,
    {{ normalize_email('email') }}           as email_normalized,
    first_name,
    last_name,
    trim(coalesce(first_name, '') || ' ' || coalesce(last_name, '')) as owner_name,
    type                                     as owner_type,
    user_id,
    teams                                    as teams_json,
    created_at,
    updated_at,
    _synced_at                               as synced_at
from live
