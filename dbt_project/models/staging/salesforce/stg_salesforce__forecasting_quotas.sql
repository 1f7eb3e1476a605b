{#- Empty when the integration user lacks the forecasting permission (the connector skips the
    object cleanly); int_rep_quotas then falls back to the rep_quotas seed. -#}
with live as (
    {{ live_latest(source('salesforce', 'forecasting_quota'), 'id', '_synced_at desc, system_modstamp desc') }}
)

select
    id                                          as quota_id,
    quota_owner_id                              as user_id,
    cast(quota_amount as {{ type_double() }})                as quota_amount,
    start_date,
    period_id,
    coalesce(is_amount, true)                   as is_amount,
    forecasting_type_id,
    nullif(upper(trim(currency_iso_code)), '')  as currency_code,
    _synced_at                                  as synced_at
from live
