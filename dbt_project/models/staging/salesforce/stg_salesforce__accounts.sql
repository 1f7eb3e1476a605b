with live as (
    {{ live_latest(source('salesforce', 'account'), 'id', '_synced_at desc, system_modstamp desc', ['is_deleted']) }}
)

select
    id                                      as account_id,
    name                                    as account_name,
    website,
    industry,
    billing_country,
    number_of_employees,
    owner_id,
    master_record_id,
    nullif(upper(trim(currency_iso_code)), '') as currency_code,
    created_date                            as created_at,
    _synced_at                              as synced_at
from live
