{#- What became of each source's last sync: meta.source_status (written by `advocacy sync` and
    the Dagster sync assets, connectors/schema.py), or no rows for a warehouse that has none
    yet (one synced by an older version). -#}
{% macro source_status_rows() -%}
    {%- set rel = none -%}
    {%- if execute -%}
        {%- set rel = adapter.get_relation(database=target.database, schema='meta', identifier='source_status') -%}
    {%- endif -%}
    {%- if rel is not none -%}
        select source, status, detail, attempted_at, last_success_at, failing_since from {{ rel }}
    {%- else -%}
        select cast(null as {{ dbt.type_string() }}) as source, cast(null as {{ dbt.type_string() }}) as status,
               cast(null as {{ dbt.type_string() }}) as detail, cast(null as timestamp) as attempted_at,
               cast(null as timestamp) as last_success_at, cast(null as timestamp) as failing_since
        where 1 = 0
    {%- endif -%}
{%- endmacro %}
