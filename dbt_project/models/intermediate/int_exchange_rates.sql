{#- Every currency's rates as Salesforce keeps them: DatedConversionRate periods
    [start_date, next_start_date) and the CurrencyType fallback rate. A rate is units of the
    currency per 1 unit of the org's *corporate* currency (whose own rate is 1). The reporting
    currency (var reporting_currency) may be any currency with rates: macro
    convert_to_reporting converts with the cross rate
    amount / rate(currency, date) * rate(reporting currency, date). -#}
select
    currency_code,
    'dated'                      as rate_kind,
    start_date,
    next_start_date,
    conversion_rate
from {{ ref('stg_salesforce__dated_conversion_rates') }}
where conversion_rate is not null and conversion_rate <> 0

union all

select
    currency_code,
    'currency_type'              as rate_kind,
    cast(null as date)           as start_date,
    cast(null as date)           as next_start_date,
    conversion_rate
from {{ ref('stg_salesforce__currency_types') }}
where conversion_rate is not null and conversion_rate <> 0
