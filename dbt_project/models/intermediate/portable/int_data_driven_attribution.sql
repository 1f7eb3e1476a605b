{#- int_data_driven_attribution where the adapter runs no dbt Python models (Postgres, Spark in
    session mode): the Markov chain's fundamental matrix, exact Shapley values and the bootstrap
    need numpy (../int_data_driven_attribution.py), so here the model is empty with the same
    columns: data_driven_credit and model_comparison then hold no data-driven rows (documented in
    dbt_project/README.md "Portability"; the rule models are unaffected). -#}
select
    cast(null as {{ dbt.type_string() }})  as result,
    cast(null as {{ dbt.type_string() }})  as path_kind,
    cast(null as {{ dbt.type_string() }})  as dimension,
    cast(null as {{ dbt.type_string() }})  as model,
    cast(null as {{ dbt.type_string() }})  as member,
    cast(null as {{ type_double() }})      as credit,
    cast(null as {{ type_double() }})      as ci_low,
    cast(null as {{ type_double() }})      as ci_high,
    cast(null as {{ type_double() }})      as raw_value,
    cast(null as {{ type_double() }})      as credited_conversions,
    cast(null as {{ type_double() }})      as credited_amount,
    cast(null as {{ type_double() }})      as total_amount,
    cast(null as {{ dbt.type_bigint() }})  as n_paths,
    cast(null as {{ dbt.type_bigint() }})  as n_converting_paths,
    cast(null as {{ dbt.type_bigint() }})  as member_rank,
    cast(null as {{ dbt.type_bigint() }})  as n_members,
    cast(null as {{ type_double() }})      as rank_stability,
    cast(null as {{ dbt.type_bigint() }})  as n_replicates,
    cast(null as {{ dbt.type_bigint() }})  as markov_order
where 1 = 0
