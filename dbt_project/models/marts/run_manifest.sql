{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail',
          full_refresh=false) }}
{#- One row per build (appended): as_of, the configuration hash (vars + seed checksums), the
    dbt version and the row counts of the marts as built. full_refresh=false: the manifest is
    the history of builds, so `dbt build --full-refresh` (which rebuilds every other
    incremental model) appends to it like any build instead of wiping it. -#}
{%- set marts = ['funnel_by_segment', 'segment_comparison', 'attribution_credit', 'pipeline_by_segment',
                 'advocate_leaderboard', 'rep_quota_vs_advocacy', 'quota_advocacy_correlation',
                 'web_traffic_by_segment', 'advocacy_value', 'data_quality'] -%}
{%- set fingerprint = config_fingerprint() -%}
select
    cast('{{ invocation_id }}' as {{ dbt.type_string() }})                                  as run_id,
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp) as run_started_at,
    {{ as_of_date() }}                                                      as as_of,
    cast({{ dbt.hash("'" ~ (fingerprint | replace("'", "''")) ~ "'") }} as {{ dbt.type_string() }}) as config_hash,
    cast('{{ fingerprint | replace("'", "''") }}' as {{ dbt.type_string() }})              as config_json,
    cast('{{ dbt_version }}' as {{ dbt.type_string() }})                                    as dbt_version,
    cast('{{ adapter.type() }}' as {{ dbt.type_string() }})                                 as adapter_type,
    cast('{{ reporting_currency() }}' as {{ dbt.type_string() }})                              as reporting_currency,
    {%- for m in marts %}
    cast((select count(*) from {{ ref(m) }}) as bigint)                    as {{ m }}_rows{% if not loop.last %},{% endif %}
    {%- endfor %}
