{#- Every currency's rates, for conversion to the reporting currency (var reporting_currency,
    = the Salesforce corporate currency): Salesforce DatedConversionRate periods
    [start_date, next_start_date) and the CurrencyType fallback rate. Rates are units of the
    currency per 1 reporting-currency unit: amount_reporting = amount / rate. -#}
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
