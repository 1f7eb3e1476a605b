{#- The run's calendar, for the snapshots of reported quarters (docs/DEFINITIONS.md
    "Reported quarters and restatements").

    run_date_literal(): the date the run treats as today, in the reporting time zone: var
      run_date when given (a simulated world has its own clock: the sandbox, the demo and the
      tests pass it), else the run's start instant (run_started_at, UTC) in
      var reporting_timezone.
    last_complete_day_literal(): the day before run_date, the last day whose data is complete.
    is_reporting_run(): true when the run's as_of is that day: the nightly run. Only such a
      run may write the snapshots of reported quarters; a backfill with a past as_of, or a run
      whose as_of lies in a day still under way, never does. -#}
{% macro run_date_literal() -%}
    {%- set v = var('run_date', none) -%}
    {%- if v is none or (v | string | trim | lower) in ('', 'none', 'today') -%}
        {%- set tz_name = var('reporting_timezone', 'UTC') | string | trim -%}
        {%- if tz_name not in modules.pytz.all_timezones_set -%}
            {{ exceptions.raise_compiler_error("var reporting_timezone: unknown time zone '" ~ tz_name ~ "' (use an IANA name such as UTC or America/New_York)") }}
        {%- endif -%}
        {%- set v = run_started_at.astimezone(modules.pytz.timezone(tz_name)).strftime('%Y-%m-%d') -%}
    {%- endif -%}
    {{ return(v | string | trim) }}
{%- endmacro %}

{% macro last_complete_day_literal() -%}
    {%- set d = modules.datetime.datetime.strptime(run_date_literal(), '%Y-%m-%d') - modules.datetime.timedelta(days=1) -%}
    {{ return(d.strftime('%Y-%m-%d')) }}
{%- endmacro %}

{% macro is_reporting_run() -%}
    {{ return(as_of_literal() == last_complete_day_literal()) }}
{%- endmacro %}

{#- The date a quarter's numbers are reported (frozen): the first day the cohort is mature,
    its last day + var maturity_days (macro is_mature). -#}
{% macro quarter_reported_on(start_expr) -%}
    {{ date_add_days(var('maturity_days', 90), date_add_days(-1, period_end_exclusive(start_expr, 'quarter'))) }}
{%- endmacro %}
