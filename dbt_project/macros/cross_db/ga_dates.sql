{#- A GA4 date (a calendar day of the GA4 property's time zone, tz_expr) -> the reporting time
    zone's date (var reporting_timezone) that holds the middle (12:00) of that day: the date
    most of the day's hours fall on. The same date when the zones agree (and for every pair
    less than 12 hours apart); e.g. a Pacific/Auckland (UTC+13) property's day D is the
    America/Los_Angeles day D - 1. A NULL zone is taken as the reporting one. -#}
{% macro ga_date_to_reporting_date(date_expr, tz_expr) -%}
    {%- set tz = var('reporting_timezone', 'UTC') -%}
    case
        when {{ tz_expr }} is null or {{ tz_expr }} = '{{ tz }}' then cast({{ date_expr }} as date)
        else {{ adapter.dispatch('ga_date_to_reporting_date', 'advocacy_attribution')(date_expr, tz_expr, tz) }}
    end
{%- endmacro %}
{% macro default__ga_date_to_reporting_date(date_expr, tz_expr, tz) -%}
    cast(((cast({{ date_expr }} as timestamp) + interval '12 hours') at time zone {{ tz_expr }})
         at time zone '{{ tz }}' as date)
{%- endmacro %}
{% macro duckdb__ga_date_to_reporting_date(date_expr, tz_expr, tz) -%}
    cast(timezone('{{ tz }}', timezone({{ tz_expr }}, cast({{ date_expr }} as timestamp) + interval 12 hour)) as date)
{%- endmacro %}
{% macro spark__ga_date_to_reporting_date(date_expr, tz_expr, tz) -%}
    to_date(from_utc_timestamp(to_utc_timestamp(cast({{ date_expr }} as timestamp) + interval 12 hours, {{ tz_expr }}), '{{ tz }}'))
{%- endmacro %}
