{#- var as_of: a date (YYYY-MM-DD), or "today"/null for the default: the last *complete* day in
    the reporting time zone (var reporting_timezone), i.e. the day before the run's date there
    (var run_date, else run_started_at there; macro last_complete_day_literal). A 02:00 nightly
    run in New York therefore reports through yesterday, never a day that has only two hours of
    data (DEFINITIONS.md "as_of"). Computed once per run, so a run is one consistent day. -#}
{% macro as_of_literal() -%}
    {%- set v = var('as_of', 'today') | string | trim -%}
    {%- if v | lower in ('today', 'none', '') -%}
        {%- set v = last_complete_day_literal() -%}
    {%- endif -%}
    {{ return(v) }}
{%- endmacro %}

{% macro as_of_date() -%}
    cast('{{ as_of_literal() }}' as date)
{%- endmacro %}

{#- A date expression, or null when it falls after as_of. -#}
{% macro on_or_before_as_of(expr) -%}
    case when {{ expr }} <= {{ as_of_date() }} then {{ expr }} end
{%- endmacro %}
