{#- Generic test: every non-null value lies in [min_value, max_value] (with a float tolerance). -#}
{% test between(model, column_name, min_value, max_value, tolerance=0.000000001) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} < {{ min_value }} - {{ tolerance }}
   or {{ column_name }} > {{ max_value }} + {{ tolerance }}
{% endtest %}
