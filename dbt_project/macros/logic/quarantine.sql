{#- Rows of every ``<schema>._quarantine`` table that exists (a connector creates it on its
    first run), as: source, reason, n. When none exists yet, an empty result of that shape. -#}
{% macro quarantine_counts() -%}
    {%- set parts = [] -%}
    {%- if execute -%}
        {%- for schema in ['hubspot', 'salesforce', 'ga4', 'advocacy_platform'] -%}
            {%- set rel = adapter.get_relation(database=target.database, schema=schema, identifier='_quarantine') -%}
            {%- if rel is not none -%}
                {%- do parts.append("select '" ~ schema ~ "' as source, reason, count(*) as n from " ~ rel ~ " group by reason") -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if parts | length == 0 -%}
        select cast(null as {{ dbt.type_string() }}) as source, cast(null as {{ dbt.type_string() }}) as reason, cast(0 as bigint) as n where 1 = 0
    {%- else -%}
        {{ parts | join('\n    union all\n    ') }}
    {%- endif -%}
{%- endmacro %}
