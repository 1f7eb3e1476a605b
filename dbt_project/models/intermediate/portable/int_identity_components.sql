{#- Identity, step 4, for adapters that cannot run dbt Python models (Postgres, Spark in
    session mode): the same output as ../int_identity_components.py (one row per record: its
    component's smallest record key and the component's size), by min-label propagation.

    No recursive CTE (a recursive label spread writes a row per member and label: k^2 rows for a
    group of k; Spark has no recursion before 4.1): a fixed number of rounds, var
    identity_label_rounds, each (1) hooks every record to the smallest label among itself and
    its neighbours and (2) jumps every label to its label's label (pointer jumping), so a chain
    of k records settles in about log2(k) rounds. Rows per round: records + 2 x links.
    tests/invariants/assert_identity_components_settled.sql fails, naming the var, should a
    graph need more rounds. Labels compare byte-wise (binary_order) like Python's str order.
    The rounds are macro identity_label_rounds (macros/logic/identity_rounds.sql): chained CTEs,
    or on Spark a table per round. -#}
{%- set rounds = var('identity_label_rounds', 24) | int -%}
with records as (
    select record_key from {{ ref('int_identity_records') }}
),

links as (
    select node_a as a, node_b as b from {{ ref('int_identity_edges') }}
    union all
    select node_b as a, node_a as b from {{ ref('int_identity_edges') }}
),

{{ identity_label_rounds(rounds) }}

select s.record_key,
       s.label as root_record_key,
       count(*) over (partition by s.label) as group_records
from settled as s
