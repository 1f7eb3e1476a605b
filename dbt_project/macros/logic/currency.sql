{#-
  convert_to_reporting(cte, currency_col, date_col): CTEs ending in ``<cte>_converted`` with
  every column of ``cte`` plus ``conversion_rate`` and ``is_currency_known``.

  Rate (DEFINITIONS.md "Opportunities"): no currency -> the reporting currency; the reporting
  currency -> 1; else the dated rate with start_date <= date < next_start_date (open-ended when
  next_start_date is null); else CurrencyType.ConversionRate; else unknown (is_currency_known =
  false: quarantined by the caller, counted in data_quality). Needs a unique ``row_id`` column.
-#}
{% macro convert_to_reporting(cte, currency_col, date_col) -%}
{{ cte }}_dated as (
    select
        c.row_id,
        r.conversion_rate,
        row_number() over (partition by c.row_id order by r.start_date desc) as pick
    from {{ cte }} as c
    inner join {{ ref('int_exchange_rates') }} as r
        on r.rate_kind = 'dated'
       and r.currency_code = coalesce(c.{{ currency_col }}, '{{ var("reporting_currency") }}')
       and r.start_date <= c.{{ date_col }}
       and (r.next_start_date is null or c.{{ date_col }} < r.next_start_date)
),

{{ cte }}_fallback as (
    select currency_code, min(conversion_rate) as conversion_rate
    from {{ ref('int_exchange_rates') }}
    where rate_kind = 'currency_type'
    group by currency_code
),

{{ cte }}_converted as (
    select
        c.*,
        case
            when coalesce(c.{{ currency_col }}, '{{ var("reporting_currency") }}') = '{{ var("reporting_currency") }}' then 1.0
            when d.conversion_rate is not null then d.conversion_rate
            else f.conversion_rate
        end as conversion_rate,
        case
            when coalesce(c.{{ currency_col }}, '{{ var("reporting_currency") }}') = '{{ var("reporting_currency") }}' then true
            when d.conversion_rate is not null or f.conversion_rate is not null then true
            else false
        end as is_currency_known
    from {{ cte }} as c
    left join {{ cte }}_dated as d on d.row_id = c.row_id and d.pick = 1
    left join {{ cte }}_fallback as f on f.currency_code = c.{{ currency_col }}
)
{%- endmacro %}
