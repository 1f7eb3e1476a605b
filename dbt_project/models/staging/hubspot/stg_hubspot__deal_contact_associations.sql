{#- v4 deal -> contact associations. One row per deal x contact (several association types
    between the same pair collapse). -#}
with live as (
    {{ live_latest(source('hubspot', 'deal_contact_associations'),
                   'deal_id, contact_id, association_type_id', '_synced_at desc') }}
)

select distinct
    cast(deal_id as {{ dbt.type_string() }})    as deal_id,
    cast(contact_id as {{ dbt.type_string() }}) as contact_id
from live
