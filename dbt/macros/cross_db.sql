{# Small cross-database helpers: one model SQL for duckdb (local) and Athena/Trino. #}

{# The run's as-of date: the pipeline's run_date var, so re-runs for the same date are identical. #}
{% macro as_of_date() -%}
  {%- if var('run_date') -%} cast('{{ var("run_date") }}' as date) {%- else -%} current_date {%- endif -%}
{%- endmacro %}

{% macro as_of_timestamp() -%}
  cast({{ as_of_date() }} + interval '1' day as timestamp)
{%- endmacro %}

{# Fractional days between two timestamps. #}
{% macro days_between(start_ts, end_ts) -%}
  round(date_diff('second', {{ start_ts }}, {{ end_ts }}) / 86400.0, 3)
{%- endmacro %}

{% macro hours_between(start_ts, end_ts) -%}
  round(date_diff('second', {{ start_ts }}, {{ end_ts }}) / 3600.0, 2)
{%- endmacro %}

{% macro median(expression) -%}
  {{ return(adapter.dispatch('median', 'marketplace')(expression)) }}
{%- endmacro %}
{% macro default__median(expression) -%} median({{ expression }}) {%- endmacro %}
{% macro athena__median(expression) -%} approx_percentile({{ expression }}, 0.5) {%- endmacro %}

{# Element of an array by 1-based position, NULL when out of range. #}
{% macro array_element(array_expression, position) -%}
  {{ return(adapter.dispatch('array_element', 'marketplace')(array_expression, position)) }}
{%- endmacro %}
{% macro default__array_element(array_expression, position) -%}
  list_extract({{ array_expression }}, {{ position }})
{%- endmacro %}
{% macro athena__array_element(array_expression, position) -%}
  element_at({{ array_expression }}, {{ position }})
{%- endmacro %}

{# A row per array element with its 1-based position (same syntax in duckdb and Trino). #}
{% macro unnest_with_position(array_expression, alias, element, position) -%}
  cross join unnest({{ array_expression }}) with ordinality as {{ alias }} ({{ element }}, {{ position }})
{%- endmacro %}

{# A stable text key from several columns, for composite primary keys. #}
{% macro composite_key(columns) -%}
  {%- for column in columns -%}
    coalesce(cast({{ column }} as varchar), '~'){% if not loop.last %} || '|' || {% endif %}
  {%- endfor -%}
{%- endmacro %}

{# Integer division guarded against zero (NULL when the denominator is 0). #}
{% macro safe_ratio(numerator, denominator, digits=4) -%}
  round(cast({{ numerator }} as double) / nullif({{ denominator }}, 0), {{ digits }})
{%- endmacro %}
