{#- Periods (docs/DEFINITIONS.md): calendar months, and quarters whose fiscal year starts in
    var fiscal_year_start_month. period_start is the first date of the period. -#}
{% macro period_start(date_expr, grain) -%}
    {%- if grain == 'month' -%}
        cast({{ dbt.date_trunc('month', date_expr) }} as date)
    {%- elif grain == 'quarter' -%}
        {%- set fy = var('fiscal_year_start_month', 1) | int -%}
        cast({{ dbt.dateadd('month',
            '-1 * ' ~ modulo(modulo('extract(month from ' ~ date_expr ~ ') - ' ~ fy ~ ' + 12', 12), 3),
            dbt.date_trunc('month', date_expr)) }} as date)
    {%- else -%}
        {{ exceptions.raise_compiler_error("period grain must be month or quarter, got " ~ grain) }}
    {%- endif -%}
{%- endmacro %}

{% macro period_end_exclusive(start_expr, grain) -%}
    cast({{ dbt.dateadd('month', 1 if grain == 'month' else 3, start_expr) }} as date)
{%- endmacro %}

{# Rows of ``relation_sql`` (a CTE name) fanned out to both grains with their period_start. #}
{% macro fan_out_periods(cte, date_column) -%}
    select 'month' as period_grain, {{ period_start(date_column, 'month') }} as period_start, {{ cte }}.* from {{ cte }}
    union all
    select 'quarter' as period_grain, {{ period_start(date_column, 'quarter') }} as period_start, {{ cte }}.* from {{ cte }}
{%- endmacro %}

{#- A cohort is mature when its period's last day is at least var maturity_days before as_of. -#}
{% macro is_mature(grain_col, start_col) -%}
    (case
        when {{ grain_col }} = 'month'
            then {{ date_add_days(var('maturity_days', 90) - 1, period_end_exclusive(start_col, 'month')) }}
        else {{ date_add_days(var('maturity_days', 90) - 1, period_end_exclusive(start_col, 'quarter')) }}
    end <= {{ as_of_date() }})
{%- endmacro %}
