{#- Targets, not collisions. A target named ``prod``, and any DuckDB target (a file, or a
    MotherDuck database, of its own), writes the custom schemas as they are (``marts``,
    ``staging``...): what the Dagster assets, the report and BI tools read. Any other target
    (dev on a shared warehouse: Postgres, Snowflake...) writes ``<target schema>_<schema>``,
    e.g. ``dev_alice_marts``, so dev and prod never overwrite each other. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif target.name == 'prod' or target.type == 'duckdb' -%}
        {{ custom_schema_name | trim }}
    {%- else -%}
        {{ target.schema }}_{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
