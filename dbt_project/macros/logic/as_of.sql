{#- var as_of: a date (YYYY-MM-DD), or "today"/null for the default: the last *complete* day in
    the reporting time zone (var reporting_timezone), i.e. the day before the run's local date
    there. A 02:00 nightly run in New York therefore reports through yesterday, never a day
    that has only two hours of data (DEFINITIONS.md "as_of"). Computed once from
    run_started_at, so a run is one consistent day. -#}
{% macro as_of_literal() -%}
    {%- set v = var('as_of', 'today') | string | trim -%}
    {%- if v | lower in ('today', 'none', '') -%}
        {%- set v = default_as_of(run_started_at) -%}
    {%- endif -%}
    {{ return(v) }}
{%- endmacro %}

{#- The last complete day in the reporting time zone at instant ``now`` (a UTC datetime). -#}
{% macro default_as_of(now) -%}
    {%- set tz_name = var('reporting_timezone', 'UTC') | string | trim -%}
    {%- if tz_name not in modules.pytz.all_timezones_set -%}
        {{ exceptions.raise_compiler_error("var reporting_timezone: unknown time zone '" ~ tz_name ~ "' (use an IANA name such as UTC or America/New_York)") }}
    {%- endif -%}
    {%- set local_now = now.astimezone(modules.pytz.timezone(tz_name)) -%}
    {{ return((local_now.date() - modules.datetime.timedelta(days=1)).strftime('%Y-%m-%d')) }}
{%- endmacro %}

{% macro as_of_date() -%}
    cast('{{ as_of_literal() }}' as date)
{%- endmacro %}
