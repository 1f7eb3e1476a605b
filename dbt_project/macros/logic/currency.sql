{#-
  convert_to_reporting(cte, currency_col, date_col): CTEs ending in ``<cte>_converted`` with
  every column of ``cte`` plus ``conversion_rate`` and ``is_currency_known``.

  Salesforce rates (int_exchange_rates) are units of a currency per 1 unit of the org's
  corporate currency. The reporting currency (var reporting_currency) need not be the corporate
  one, so the rate used is the cross rate (DEFINITIONS.md "Opportunities"):

      conversion_rate = rate(currency, date) / rate(reporting currency, date)
      amount_reporting = amount / conversion_rate
                       = amount / rate(currency, date) * rate(reporting currency, date)

  rate(c, date) = the dated rate of c with start_date <= date < next_start_date (open-ended
  when next_start_date is null), else c's CurrencyType.ConversionRate. No currency -> the
  reporting currency; the reporting currency itself -> 1 (no rate needed). Either rate missing
  -> unknown (is_currency_known = false, conversion_rate null: quarantined by the caller,
  counted in data_quality). Needs a unique ``row_id`` column.
-#}
{#- The reporting currency code (var reporting_currency), trimmed and upper-cased like the
    staged currency codes. -#}
{% macro reporting_currency() -%}
    {{ return(var("reporting_currency", "USD") | string | trim | upper) }}
{%- endmacro %}

{% macro convert_to_reporting(cte, currency_col, date_col) -%}
{%- set reporting = reporting_currency() -%}
{{ cte }}_legs as (
    select row_id, 'from' as leg, coalesce({{ currency_col }}, '{{ reporting }}') as currency_code,
           {{ date_col }} as rate_date
    from {{ cte }}
    union all
    select row_id, 'to' as leg, '{{ reporting }}' as currency_code, {{ date_col }} as rate_date
    from {{ cte }}
),

{{ cte }}_dated as (
    select
        l.row_id,
        l.leg,
        r.conversion_rate,
        row_number() over (partition by l.row_id, l.leg order by r.start_date desc) as pick
    from {{ cte }}_legs as l
    inner join {{ ref('int_exchange_rates') }} as r
        on r.rate_kind = 'dated'
       and r.currency_code = l.currency_code
       and r.start_date <= l.rate_date
       and (r.next_start_date is null or l.rate_date < r.next_start_date)
),

{{ cte }}_fallback as (
    select currency_code, min(conversion_rate) as conversion_rate
    from {{ ref('int_exchange_rates') }}
    where rate_kind = 'currency_type'
    group by currency_code
),

{{ cte }}_leg_rates as (
    select
        l.row_id,
        l.leg,
        coalesce(d.conversion_rate, f.conversion_rate) as conversion_rate
    from {{ cte }}_legs as l
    left join {{ cte }}_dated as d on d.row_id = l.row_id and d.leg = l.leg and d.pick = 1
    left join {{ cte }}_fallback as f on f.currency_code = l.currency_code
),

{{ cte }}_converted as (
    select
        c.*,
        case
            when coalesce(c.{{ currency_col }}, '{{ reporting }}') = '{{ reporting }}' then 1.0
            else fr.conversion_rate / tr.conversion_rate
        end as conversion_rate,
        case
            when coalesce(c.{{ currency_col }}, '{{ reporting }}') = '{{ reporting }}' then true
            when fr.conversion_rate is not null and tr.conversion_rate is not null then true
            else false
        end as is_currency_known
    from {{ cte }} as c
    left join {{ cte }}_leg_rates as fr on fr.row_id = c.row_id and fr.leg = 'from'
    left join {{ cte }}_leg_rates as tr on tr.row_id = c.row_id and tr.leg = 'to'
)
{%- endmacro %}
