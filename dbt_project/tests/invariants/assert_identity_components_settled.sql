{{ config(meta={'dagster': {'ref': {'name': 'int_identity_components'}}}) }}
{#- Every link joins two records of the same component. Fails (on the SQL path of
    int_identity_components, adapters without Python models) when the label propagation needed
    more rounds than var identity_label_rounds: raise it (each round halves the longest chain). -#}
select e.node_a, e.node_b, ca.root_record_key as root_a, cb.root_record_key as root_b,
       'raise var identity_label_rounds (now {{ var("identity_label_rounds", 24) }})' as fix
from {{ ref('int_identity_edges') }} as e
inner join {{ ref('int_identity_components') }} as ca on ca.record_key = e.node_a
inner join {{ ref('int_identity_components') }} as cb on cb.record_key = e.node_b
where ca.root_record_key <> cb.root_record_key
