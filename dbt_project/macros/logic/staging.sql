{#- Staging's one pattern for "latest live version per id":
      1. rank the versions of each key (raw tables are upserts, so normally one; a replayed
         or duplicated batch can still leave two), newest _synced_at first;
      2. keep the newest version only;
      3. drop it when it is deleted: ``_is_deleted`` (every source) or the source's own flag
         (HubSpot ``archived``, Salesforce ``is_deleted``). A record whose newest version is
         deleted is gone, even if an older live version was synced.
    Deleted records therefore never reach intermediate models; data_quality counts them. -#}
{% macro live_latest(source_relation, key, order_by='_synced_at desc', deleted_flags=[]) -%}
    select *
    from (
        select
            src.*,
            row_number() over (partition by {{ key }} order by {{ order_by }}) as _version_rank
        from {{ source_relation }} as src
    ) as versions
    where _version_rank = 1
      and not coalesce(_is_deleted, false)
      {%- for flag in deleted_flags %}
      and not coalesce({{ flag }}, false)
      {%- endfor %}
{%- endmacro %}
