{# Rank buckets sort as text: 01, 02-03, 04-05, 06-10, 11-20, 21+. #}
{% macro rank_bucket(rank_expression) -%}
  case
    when {{ rank_expression }} is null then 'unknown'
    when {{ rank_expression }} <= 1 then '01'
    when {{ rank_expression }} <= 3 then '02-03'
    when {{ rank_expression }} <= 5 then '04-05'
    when {{ rank_expression }} <= 10 then '06-10'
    when {{ rank_expression }} <= 20 then '11-20'
    else '21+'
  end
{%- endmacro %}

{# Score bands of width 0.2 on [0, 1]. #}
{% macro score_band(score_expression) -%}
  case
    when {{ score_expression }} is null then 'unknown'
    when {{ score_expression }} < 0.2 then '0.0-0.2'
    when {{ score_expression }} < 0.4 then '0.2-0.4'
    when {{ score_expression }} < 0.6 then '0.4-0.6'
    when {{ score_expression }} < 0.8 then '0.6-0.8'
    else '0.8-1.0'
  end
{%- endmacro %}
