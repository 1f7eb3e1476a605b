{#- Identity, step 4, for adapters that cannot run dbt Python models (Postgres, Spark in
    session mode): the same output as ../int_identity_components.py (one row per record: its
    component's smallest record key and the component's size), by min-label propagation.

    No recursive CTE (a recursive label spread writes a row per member and label: k^2 rows for a
    group of k; Spark has no recursion before 4.1): a fixed number of rounds, var
    identity_label_rounds, each (1) hooks every record to the smallest label among itself and
    its neighbours and (2) jumps every label to its label's label (pointer jumping), so a chain
    of k records settles in about log2(k) rounds. Rows per round: records + 2 x links.
    tests/invariants/assert_identity_components_settled.sql fails, naming the var, should a
    graph need more rounds. Labels compare byte-wise (binary_order) like Python's str order. -#}
{%- set rounds = var('identity_label_rounds', 24) | int -%}
with records as (
    select record_key from {{ ref('int_identity_records') }}
),

links as (
    select node_a as a, node_b as b from {{ ref('int_identity_edges') }}
    union all
    select node_b as a, node_a as b from {{ ref('int_identity_edges') }}
),

label_0 as (
    select record_key, record_key as label from records
),
{% for i in range(1, rounds + 1) %}
hooked_{{ i }} as (
    select l.record_key, l.label as own_label, min({{ binary_order('n.label') }}) as neighbour_label
    from label_{{ i - 1 }} as l
    left join links as k on k.a = l.record_key
    left join label_{{ i - 1 }} as n on n.record_key = k.b
    group by l.record_key, l.label
),

step_{{ i }} as (
    select record_key,
           case when {{ binary_order('neighbour_label') }} < {{ binary_order('own_label') }}
                then neighbour_label else own_label end as label
    from hooked_{{ i }}
),

label_{{ i }} as (
    select s.record_key, coalesce(j.label, s.label) as label
    from step_{{ i }} as s
    left join step_{{ i }} as j on j.record_key = s.label
),
{% endfor %}

settled as (
    select record_key, label from label_{{ rounds }}
)

select s.record_key,
       s.label as root_record_key,
       count(*) over (partition by s.label) as group_records
from settled as s
