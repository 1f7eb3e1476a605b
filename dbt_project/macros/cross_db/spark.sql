{#-
  Spark (dbt-spark, session mode, plain Parquet tables): what the adapter itself cannot do with
  this project's portable declarations. dbt reaches these through adapter.dispatch (the
  root project's ``spark__`` macros come before dbt-spark's own).

  * Type names: YAML contracts and seed column types use the names DuckDB, Postgres and
    Snowflake share (``varchar``, ``float8``); Spark 4 rejects ``varchar`` without a length
    and has no ``float8``. ``spark_type`` maps them to ``string``/``double`` where dbt-spark
    reads the declarations: the contract's empty-schema query and the seed table's DDL and casts.
  * Snapshots: dbt-spark's snapshot needs Delta/Iceberg/Hudi (MERGE); on Parquet the
    snapshot table is rewritten whole instead (the ``snapshot`` materialization below).
-#}

{% macro spark_type(data_type) -%}
    {%- set name = (data_type | string | trim | lower) -%}
    {%- set mapped = {'varchar': 'string', 'text': 'string', 'float8': 'double',
                      'double precision': 'double', 'float4': 'float'} -%}
    {{- return(mapped.get(name, data_type)) -}}
{%- endmacro %}

{# the contract's declared columns as an empty query (dbt's default, Spark type names) #}
{% macro spark__get_empty_schema_sql(columns) -%}
    select
    {% for i in columns %}
      {%- set col = columns[i] -%}
      {%- if col['data_type'] is not defined -%}
        {{ exceptions.column_type_missing(column_names=[col['name']]) }}
      {%- endif -%}
      {%- set col_name = adapter.quote(col['name']) if col.get('quote') else col['name'] %}
      cast(null as {{ spark_type(col['data_type']) }}) as {{ col_name }}{{ ", " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{# seeds: dbt-spark's create_csv_table and load_csv_rows with the column types mapped #}
{% macro spark__create_csv_table(model, agate_table) %}
  {%- set column_override = model['config'].get('column_types', {}) -%}
  {%- set quote_seed_column = model['config'].get('quote_columns', None) -%}
  {% set sql %}
    create table {{ this.render() }} (
        {%- for col_name in agate_table.column_names -%}
            {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
            {%- set type = spark_type(column_override.get(col_name, inferred_type)) -%}
            {{ adapter.quote_seed_column(col_name | string, quote_seed_column) }} {{ type }} {%- if not loop.last -%}, {%- endif -%}
        {%- endfor -%}
    )
    {{ file_format_clause() }}
  {% endset %}
  {% call statement('_') -%}
    {{ sql }}
  {%- endcall %}
  {{ return(sql) }}
{% endmacro %}

{#- dbt-spark's session mode pastes bound values into the SQL unescaped (a quote in a seed's
    text ends the literal; a null arrives as the string 'None'): the values are written as
    escaped literals here instead, null as null. -#}
{% macro spark_literal(value) -%}
    {%- if value is none -%}null
    {%- else -%}'{{ value | string | replace('\\', '\\\\') | replace("'", "\\'") }}'
    {%- endif -%}
{%- endmacro %}

{% macro spark__load_csv_rows(model, agate_table) %}
  {% set column_override = model['config'].get('column_types', {}) %}
  {% set types = [] %}
  {% for col_name in agate_table.column_names %}
      {% do types.append(spark_type(column_override.get(col_name, adapter.convert_type(agate_table, loop.index0)))) %}
  {% endfor %}
  {% set statements = [] %}
  {% for chunk in agate_table.rows | batch(get_batch_size()) %}
      {% set sql %}
          insert into {{ this.render() }} values
          {% for row in chunk -%}
              ({%- for value in row -%}
                  cast({{ spark_literal(value) }} as {{ types[loop.index0] }}){%- if not loop.last %},{%- endif %}
              {%- endfor -%}){%- if not loop.last %},{%- endif %}
          {%- endfor %}
      {% endset %}
      {% do adapter.add_query(sql, abridge_sql_log=True) %}
      {% if loop.index0 == 0 %}{% do statements.append(sql) %}{% endif %}
  {% endfor %}
  {{ return(statements[0] if statements else '') }}
{% endmacro %}

{#- Snapshots on Parquet. dbt's strategy (check or timestamp) and staging query decide, as on
    any adapter, which rows are inserts, updates and deletes; the new table is the old one
    with the versions the staging rows close (dbt_valid_to set) plus the new versions. Parquet
    tables have neither MERGE nor UPDATE, and Spark cannot overwrite a table it reads in the
    same statement: the result goes to a work table first, then replaces the snapshot's rows
    (INSERT OVERWRITE), and the work table is dropped. The snapshot tables are small (a row
    per quarter and segment): the rewrite costs nothing worth a table format. -#}
{% materialization snapshot, adapter='spark' %}
  {%- set file_format = config.get('file_format') or 'parquet' -%}
  {%- set target_relation_exists, target_relation = get_or_create_relation(
          database=none, schema=model.schema, identifier=model.get('alias', model.get('name')),
          type='table') -%}
  {%- if not adapter.check_schema_exists(model.database, model.schema) -%}
    {%- do create_schema(model.schema) -%}
  {%- endif -%}
  {{ run_hooks(pre_hooks) }}
  {%- set strategy_macro = strategy_dispatch(config.get('strategy')) -%}
  {%- set strategy = strategy_macro(model, "snapshotted_data", "source_data", model['config'], target_relation_exists) -%}
  {%- set columns = config.get("snapshot_table_column_names") or get_snapshot_table_column_names() -%}
  {%- if not target_relation_exists -%}
    {%- set final_sql = create_table_as(False, target_relation, build_snapshot_table(strategy, model['compiled_code'])) -%}
  {%- else -%}
    {{ adapter.valid_snapshot_target(target_relation, columns) }}
    {%- set staging = snapshot_staging_table(strategy, model['compiled_code'], target_relation) -%}
    {%- set work = api.Relation.create(identifier=target_relation.identifier ~ '__dbt_work',
                                       schema=target_relation.schema, database=none, type='table') -%}
    {%- set target_columns = adapter.get_columns_in_relation(target_relation) | map(attribute='name') | list -%}
    {%- set column_list = target_columns | join(', ') -%}
    {%- set closed_list = [] -%}
    {%- for c in target_columns -%}
      {%- do closed_list.append(('coalesce(s.' ~ columns.dbt_valid_to ~ ', d.' ~ c ~ ') as ' ~ c)
                                if c == columns.dbt_valid_to else ('d.' ~ c)) -%}
    {%- endfor -%}
    {%- do adapter.drop_relation(work) -%}
    {%- call statement('snapshot_work') -%}
      create table {{ work }} using {{ file_format }} as
      with staged as ({{ staging }})
      select {{ closed_list | join(', ') }}
      from {{ target_relation }} as d
      left join (select {{ columns.dbt_scd_id }}, {{ columns.dbt_valid_to }} from staged
                 where dbt_change_type in ('update', 'delete')) as s
        on s.{{ columns.dbt_scd_id }} = d.{{ columns.dbt_scd_id }}
       and d.{{ columns.dbt_valid_to }} is null
      union all
      select {{ column_list }} from staged where dbt_change_type = 'insert'
    {%- endcall -%}
    {%- set final_sql = 'insert overwrite table ' ~ target_relation ~ ' select ' ~ column_list ~ ' from ' ~ work -%}
  {%- endif -%}
  {% call statement('main') %}
      {{ final_sql }}
  {% endcall %}
  {%- if work is defined -%}{%- do adapter.drop_relation(work) -%}{%- endif -%}
  {% do persist_docs(target_relation, model) %}
  {{ run_hooks(post_hooks) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{#- A long view (the snapshot inputs): a table on Spark, whose Hive metastore on Derby keeps a
    view's text in a LONG VARCHAR of at most 32,700 characters; the compiled snapshot inputs
    are longer. -#}
{% macro long_view_materialization() -%}
    {{ return(adapter.dispatch('long_view_materialization', 'advocacy_attribution')()) }}
{%- endmacro %}
{% macro default__long_view_materialization() -%}
    {{ return('view') }}
{%- endmacro %}
{% macro spark__long_view_materialization() -%}
    {{ return('table') }}
{%- endmacro %}

{#- dbt.listagg: dbt-spark's ignores the order (collect_list, with a warning), so the
    data_quality details would list their items in any order; Spark 4 has listagg ... within
    group (order by ...). -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if limit_num -%}
        {{ exceptions.raise_compiler_error("listagg on Spark: limit_num is not supported here") }}
    {%- endif -%}
    listagg({{ measure }}, {{ delimiter_text }}){% if order_by_clause %} within group ({{ order_by_clause }}){% endif %}
{%- endmacro %}

{#- dbt.dateadd / dbt.datediff: dbt-spark's repeat their argument six and four times (checks
    that it is a real date), so macros nesting them (a quarter's reporting date: a dateadd of a
    dateadd of a date_trunc) compiled to 110 KB of SQL and a plan the optimiser ran out of
    memory on. Spark 4's timestampadd and datediff read it once. -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    timestampadd({{ datepart }}, cast({{ interval }} as bigint), {{ from_date_or_timestamp }})
{%- endmacro %}
{% macro spark__datediff(first_date, second_date, datepart) -%}
    {%- if datepart == 'day' -%}
        datediff(cast({{ second_date }} as date), cast({{ first_date }} as date))
    {%- else -%}
        {#- whole units elapsed (the freshness minutes: hours since a sync) -#}
        timestampdiff({{ datepart }}, {{ first_date }}, {{ second_date }})
    {%- endif -%}
{%- endmacro %}
