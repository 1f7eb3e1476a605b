{#- The label rounds of the SQL path of int_identity_components: CTEs after the model's
    ``records`` (record_key) and ``links`` (a, b: both directions) that end in
    ``settled (record_key, label)``. Each round (1) hooks every record to the smallest label
    among itself and its neighbours and (2) jumps every label to its label's label. -#}
{% macro identity_label_rounds(rounds) -%}
    {{ return(adapter.dispatch('identity_label_rounds', 'advocacy_attribution')(rounds)) }}
{%- endmacro %}

{% macro identity_round_sql(previous, links) -%}
    with hooked as (
        select l.record_key, l.label as own_label, min({{ binary_order('n.label') }}) as neighbour_label
        from {{ previous }} as l
        left join {{ links }} as k on k.a = l.record_key
        left join {{ previous }} as n on n.record_key = k.b
        group by l.record_key, l.label
    ),
    step as (
        select record_key,
               case when {{ binary_order('neighbour_label') }} < {{ binary_order('own_label') }}
                    then neighbour_label else own_label end as label
        from hooked
    )
    select s.record_key, coalesce(j.label, s.label) as label
    from step as s
    left join step as j on j.record_key = s.label
{%- endmacro %}

{# One query: the rounds as chained CTEs. #}
{% macro default__identity_label_rounds(rounds) -%}
label_0 as (
    select record_key, record_key as label from records
),
{% for i in range(1, rounds + 1) %}
label_{{ i }} as (
    select * from (
    {{ identity_round_sql('label_' ~ (i - 1), 'links') }}
    ) as round_{{ i }}
),
{% endfor %}
settled as (
    select record_key, label from label_{{ rounds }}
)
{%- endmacro %}

{#- Spark inlines every CTE reference, and each round reads the previous one twice (a record's
    label and its neighbours'; the label's label): a plan of 4^rounds relations that Spark's
    analyser never finishes. Here each round is a table of its own (work tables
    <model>__labels_a/_b and <model>__links beside the model, rewritten by every build), and
    the rounds stop once one changes no label (what is left would change nothing either).
    In a unit test the inputs are fixture CTEs no separate statement can read: that test is
    disabled on Spark (models/intermediate/_intermediate__unit_tests.yml). -#}
{% macro spark__identity_label_rounds(rounds) -%}
    {%- set work = [] -%}
    {%- for suffix in ['labels_a', 'labels_b', 'links'] -%}
        {%- do work.append(api.Relation.create(schema=this.schema, identifier=this.identifier ~ '__' ~ suffix, type='table')) -%}
    {%- endfor -%}
    {%- set final = work[0] -%}
    {%- if execute -%}
        {%- for r in work -%}{%- do adapter.drop_relation(r) -%}{%- endfor -%}
        {%- do run_query('create table ' ~ work[2] ~ ' using parquet as '
                         ~ 'select node_a as a, node_b as b from ' ~ ref('int_identity_edges')
                         ~ ' union all select node_b as a, node_a as b from ' ~ ref('int_identity_edges')) -%}
        {%- do run_query('create table ' ~ work[0] ~ ' using parquet as '
                         ~ 'select record_key, record_key as label from ' ~ ref('int_identity_records')) -%}
        {%- set state = {'current': 0} -%}
        {%- for i in range(1, rounds + 1) -%}
            {%- if state.current is not none -%}
                {%- set previous, following = work[state.current], work[1 - state.current] -%}
                {%- do adapter.drop_relation(following) -%}
                {%- do run_query('create table ' ~ following ~ ' using parquet as '
                                 ~ identity_round_sql(previous, work[2])) -%}
                {%- set changed = run_query('select count(*) from ' ~ following ~ ' as f join '
                                            ~ previous ~ ' as p on p.record_key = f.record_key '
                                            ~ 'where p.label <> f.label').columns[0].values()[0] -%}
                {%- do state.update({'current': 1 - state.current}) -%}
                {%- if changed == 0 -%}
                    {%- do state.update({'done': state.current, 'current': none}) -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set final = work[state.get('done', state.current)] -%}
    {%- endif -%}
settled as (
    select record_key, label from {{ final }}
)
{%- endmacro %}
