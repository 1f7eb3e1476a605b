{#- Staging's one pattern for "the live version of each key":
      1. the raw layer already holds one row per key: every raw table's primary key is the
         key named here (connectors/schema.py; the connectors upsert on it, a batch reduced to
         the newest version of each key first, connectors/warehouse.py), and the source's
         `unique` / `unique_combination` data test checks it on every build
         (tests/dbt/test_source_keys.py checks that ``key`` is that primary key). So staging
         reads the rows as they are: no ranking of every version on each read, which at
         millions of GA rows cost more than the rest of the view;
      2. drop the row when it is deleted: ``_is_deleted`` (every source) or the source's own
         flag (HubSpot ``archived``, Salesforce ``is_deleted``).
    Deleted records therefore never reach intermediate models; data_quality counts them.
    ``order_by`` names how versions of a key are ordered (the connectors keep the newest); it
    is documentation here, kept so a raw table without that guarantee can be ranked again. -#}
{% macro live_latest(source_relation, key, order_by='_synced_at desc', deleted_flags=[]) -%}
    select *
    from {{ source_relation }} as src
    where not coalesce(_is_deleted, false)
      {%- for flag in deleted_flags %}
      and not coalesce({{ flag }}, false)
      {%- endfor %}
{%- endmacro %}
