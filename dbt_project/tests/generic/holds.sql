{#- Generic test: a relation between columns holds on every row (rows where the expression is
    null pass: say "x is null or ..." to demand otherwise). Used instead of range tests that
    cannot fail (a clamped interval is always within [0, 1]): e.g. ci_low <= rate <= ci_high,
    mqls <= leads, (rate is null) = (leads = 0). -#}
{% test holds(model, expression, column_name=none) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}
