{# Uniqueness over several columns (no dbt_utils: the project builds offline). #}
{% test unique_combination_of_columns(model, combination_of_columns) %}
  select {{ combination_of_columns | join(', ') }}, count(*) as occurrences
  from {{ model }}
  group by {{ combination_of_columns | join(', ') }}
  having count(*) > 1
{% endtest %}

{# Every value within [min_value, max_value] (NULLs allowed). #}
{% test between(model, column_name, min_value, max_value) %}
  select {{ column_name }}
  from {{ model }}
  where {{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }}
{% endtest %}
