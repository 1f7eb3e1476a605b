{#- Custom schemas are used as-is (``marts``, ``staging``...), not prefixed with the target
    schema: users and the Dagster lineage read ``marts.<table>``. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
