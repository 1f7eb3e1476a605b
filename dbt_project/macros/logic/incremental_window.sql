{#-
  The nightly build of a large GA model costs what changed (int_ga4_sessions).

  The GA4 connector replaces whole dates: every date it (re)reads — the new day, the last
  GA4_REREAD_DAYS dates GA may have revised, a backfill's range, a date emptied — gets its
  ga4.report_days row rewritten in the same transaction as the date's rows. So the dates whose
  report_days row was synced after the model's last build are exactly the dates to rebuild,
  whatever the re-read window or a backfill chose; nothing here has to know GA4_REREAD_DAYS.

  classification_fingerprint(): md5 of what classifies and dates a row — the checksums of the
    classification seeds, the vars that move dates, the model's own SQL.
  ga_incremental_state(fingerprint): the table's state before this build, read at run time
    from its rows not written by this invocation: {'full', 'watermark', 'since'}. ``full``
    when there are none, or they were built with another fingerprint (a seed change must never
    leave stale classifications: every row is rebuilt, as dbt's --full-refresh would) or by a
    version without these columns. ``watermark``: the newest report_days sync the table has
    seen (column built_through). ``since``: the stored newest touch_date minus one day: GA
    dates moved into the reporting zone shift by at most a day, so rows held back by the
    previous as_of are read again.
  ga_incremental_filter(state, date_column, report_name): the raw GA dates to (re)build.
  ga_incremental_delete(fingerprint, report_name): the post-hook (in the model's transaction,
    after dbt has added any new column and appended the new rows) that deletes the rows this
    invocation replaced: older rows of the rebuilt dates, every older row on a full rebuild,
    rows after as_of (a build for an earlier as_of). Deleting after the append keeps a schema
    change (ALTER) and the delete in the one order DuckDB commits.
-#}
{% macro classification_fingerprint(seed_names=['advocacy_utm_rules', 'channel_rules', 'network_aliases'],
                                    var_names=['reporting_timezone', 'ga4_property_timezone']) -%}
    {%- set parts = ['model=' ~ (model.checksum.checksum if model.checksum is defined else model.name)] -%}
    {#- a unit test's context has no graph of nodes (and needs no fingerprint) -#}
    {%- set nodes = graph['nodes'] if execute and graph is mapping and 'nodes' in graph else {} -%}
    {%- if nodes -%}
        {%- for node in nodes.values() | selectattr('resource_type', 'equalto', 'seed') -%}
            {%- if node.name in seed_names -%}
                {%- do parts.append(node.name ~ '=' ~ node.checksum.checksum) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for name in var_names -%}{%- do parts.append(name ~ '=' ~ var(name, '')) -%}{%- endfor -%}
    {{ return(local_md5(parts | sort | join('|'))) }}
{%- endmacro %}

{% macro _earlier_rows() -%}
    coalesce(built_by, '') <> '{{ invocation_id }}'
{%- endmacro %}

{% macro ga_incremental_state(fingerprint) -%}
    {%- set state = {'full': true, 'watermark': none, 'since': none} -%}
    {%- set columns = (adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list)
                      if execute and this is not none and is_incremental() else [] -%}
    {%- if 'classified_with' in columns and 'built_through' in columns and 'built_by' in columns -%}
        {%- set row = run_query(
            "select min(classified_with), max(classified_with), max(built_through), max(touch_date), "
            ~ "count(*) - count(classified_with) from " ~ this ~ " where " ~ _earlier_rows()).rows[0] -%}
        {%- if row[0] == fingerprint and row[1] == fingerprint and row[2] is not none and row[4] == 0 -%}
            {%- do state.update({'full': false, 'watermark': row[2] | string,
                                 'since': (row[3] | string) if row[3] is not none else none}) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(state) }}
{%- endmacro %}

{% macro ga_incremental_filter(state, date_column, report_name) -%}
    {%- if state.full -%}
        1 = 1
    {%- else -%}
        ({{ date_column }} in (
            select report_date from {{ ref('stg_ga4__report_days') }}
            where report_name = '{{ report_name }}'
              and synced_at > cast('{{ state.watermark }}' as {{ dbt.type_timestamp() }}))
        {%- if state.since is not none %}
         or {{ date_column }} >= {{ dbt.dateadd('day', -1, "cast('" ~ state.since ~ "' as date)") }}
        {%- endif %})
    {%- endif -%}
{%- endmacro %}

{% macro ga_incremental_delete(fingerprint, report_name) -%}
    {%- if execute and is_incremental() -%}
        {%- set state = ga_incremental_state(fingerprint) -%}
        delete from {{ this }}
        where {{ _earlier_rows() }}
          and ({{ ga_incremental_filter(state, 'ga_date', report_name) }}
               or touch_date > {{ as_of_date() }})
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- The materialization of the incremental GA model. Spark's Parquet tables have no DELETE, so
    the post-hook that removes the replaced rows has no equivalent there; the dates to rebuild
    are arbitrary (the re-read window, a backfill, a date emptied, a seed change: every row), so
    neither append nor insert_overwrite by partition reproduces it exactly. On Spark the model
    is a table rebuilt in full each run: the same rows, the work spread over the cluster. -#}
{% macro ga_materialization() -%}
    {{ return(adapter.dispatch('ga_materialization', 'advocacy_attribution')()) }}
{%- endmacro %}
{% macro default__ga_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}
{% macro spark__ga_materialization() -%}
    {{ return('table') }}
{%- endmacro %}
