{#- The configuration a build ran with: every attribution var (resolved) and the checksum of
    every seed file, as one JSON text; config_hash = md5 of it. -#}
{% macro config_fingerprint() -%}
    {%- set names = ['reporting_currency', 'reporting_timezone', 'fiscal_year_start_month',
                     'lead_sourcing_lookback_days', 'attribution_lookback_days',
                     'time_decay_half_life_days', 'sourcing_rule', 'maturity_days', 'min_n_for_stats',
                     'quota_forecasting_type_id', 'markov_order', 'attribution_max_players',
                     'attribution_min_paths', 'attribution_bootstrap_replicates',
                     'attribution_bootstrap_seed'] -%}
    {%- set vars_used = {'as_of': as_of_literal()} -%}
    {%- for n in names -%}{%- do vars_used.update({n: var(n, none)}) -%}{%- endfor -%}
    {%- set seeds = {} -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values() | selectattr('resource_type', 'equalto', 'seed') -%}
            {%- do seeds.update({node.name: node.checksum.checksum}) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(tojson({'vars': vars_used, 'seeds': seeds}, sort_keys=true)) }}
{%- endmacro %}
