{#- The smaller of two nullable values (null only when both are null), portable. -#}
{% macro least_not_null(a, b) -%}
    case when {{ a }} is null then {{ b }} when {{ b }} is null then {{ a }} when {{ a }} <= {{ b }} then {{ a }} else {{ b }} end
{%- endmacro %}

{#- The later of two values, either of which may be null (then the other). -#}
{% macro greatest_not_null(a, b) -%}
    case when {{ a }} is null then {{ b }} when {{ b }} is null then {{ a }} when {{ a }} >= {{ b }} then {{ a }} else {{ b }} end
{%- endmacro %}

{# The six attribution models (docs/DEFINITIONS.md, "Attribution"), in display order. #}
{% macro attribution_models() -%}
    {{ return(['first_touch', 'last_touch', 'linear', 'u_shaped', 'w_shaped', 'time_decay']) }}
{%- endmacro %}

{% macro date_add_days(days, date_expr) -%}
    cast({{ dbt.dateadd('day', days, date_expr) }} as date)
{%- endmacro %}

{#- A case-insensitive POSIX regex for a literal word of letters, digits and '_': each letter
    becomes a bracket of both cases (utm -> [uU][tT][mM]). Portable where inline flags such as
    (?i) are not (Snowflake, Postgres ERE). -#}
{% macro ci_regex(word) -%}
    {%- set out = [] -%}
    {%- for ch in word -%}
        {%- if ch.isalpha() -%}{%- do out.append('[' ~ ch.lower() ~ ch.upper() ~ ']') -%}{%- else -%}{%- do out.append(ch) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(out | join('')) }}
{%- endmacro %}

{#- Dates no opportunity can have (docs/DEFINITIONS.md, "Data quality"): closed before it was
    created, or either date before 1970 (an epoch of 0 or below, a typing slip). Such an
    opportunity gives no cycle length (never negative days in a median) and is counted by
    data_quality's impossible_opportunity_dates. Null dates are not impossible, only unknown. -#}
{% macro impossible_dates(created, closed) -%}
    coalesce({{ closed }} < {{ created }}
              or {{ created }} < cast('1970-01-01' as date)
              or {{ closed }} < cast('1970-01-01' as date), false)
{%- endmacro %}
