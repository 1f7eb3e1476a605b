{#- var as_of: a date or "today" (the run's UTC date, so a run is one consistent day). -#}
{% macro as_of_literal() -%}
    {%- set v = var('as_of', 'today') | string | trim -%}
    {%- if v | lower in ('today', 'none', '') -%}
        {%- set v = run_started_at.strftime('%Y-%m-%d') -%}
    {%- endif -%}
    {{ return(v) }}
{%- endmacro %}

{% macro as_of_date() -%}
    cast('{{ as_of_literal() }}' as date)
{%- endmacro %}
