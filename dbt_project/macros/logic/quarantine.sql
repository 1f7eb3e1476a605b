{#- Rows of every ``<schema>.<table>`` table that exists (``_quarantine``: records kept out;
    ``_repaired``: records kept after a repair; a connector creates both on its first run), as:
    source, reason, n. When none exists yet, an empty result of that shape. -#}
{% macro quarantine_counts() -%}
    {{ raw_log_counts('_quarantine') }}
{%- endmacro %}

{% macro repaired_counts() -%}
    {{ raw_log_counts('_repaired') }}
{%- endmacro %}

{% macro raw_log_counts(table) -%}
    {%- set parts = [] -%}
    {%- if execute -%}
        {%- for schema in ['hubspot', 'salesforce', 'ga4', 'advocacy_platform'] -%}
            {%- set rel = adapter.get_relation(database=target.database, schema=schema, identifier=table) -%}
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


{#- Salesforce fields hidden from the integration user by field-level security, as the last
    sync found them (``salesforce._hidden_fields``: object, field); none when it does not exist. -#}
{% macro hidden_field_rows() -%}
    {%- set rel = none -%}
    {%- if execute -%}
        {%- set rel = adapter.get_relation(database=target.database, schema='salesforce', identifier='_hidden_fields') -%}
    {%- endif -%}
    {%- if rel is not none -%}
        select object, field from {{ rel }}
    {%- else -%}
        select cast(null as {{ dbt.type_string() }}) as object, cast(null as {{ dbt.type_string() }}) as field where 1 = 0
    {%- endif -%}
{%- endmacro %}
