{#
  Local (duckdb) only: expose every lake source as a typed view in schema lake_<zone>.
  Columns and types come from the source yml, so the view is the contract: a column missing from
  the files becomes a typed NULL, and a table with no files yet becomes an empty typed view.
  In Athena the same sources are Glue tables, so this is a no-op there.
#}
{% macro register_lake_sources() %}
  {% if execute and target.type == 'duckdb' %}
    {% set lake_root = env_var('LAKE_ROOT', 'lake') %}
    {% for source_node in graph.sources.values() if source_node.meta.get('lake_path') %}
      {% set pattern = lake_root ~ '/' ~ source_node.meta['lake_path'] ~ '/**/*.parquet' %}
      {% set file_count = run_query("select count(*) from glob('" ~ pattern ~ "')").columns[0].values()[0] %}
      {% set present = {} %}
      {% if file_count > 0 %}
        {% set reader = "read_parquet('" ~ pattern ~ "', hive_partitioning = true, union_by_name = true)" %}
        {% for row in run_query("describe select * from " ~ reader) %}
          {% do present.update({row[0]: row[1]}) %}
        {% endfor %}
      {% endif %}
      {% set select_list = [] %}
      {% for column in source_node.columns.values() %}
        {% do select_list.append(lake_column_expression(column.name, column.data_type, present.get(column.name))) %}
      {% endfor %}
      {% set view_sql %}
        create schema if not exists {{ source_node.schema }};
        create or replace view {{ source_node.schema }}.{{ source_node.identifier }} as
        select {{ select_list | join(',\n               ') }}
        {% if file_count > 0 %}from {{ reader }}{% else %}where false{% endif %}
      {% endset %}
      {% do run_query(view_sql) %}
      {{ log('lake source ' ~ source_node.schema ~ '.' ~ source_node.identifier ~ ': ' ~ file_count ~ ' file(s)', info=true) }}
    {% endfor %}
  {% endif %}
  select 1
{% endmacro %}

{# Cast one lake column to its contract type; timestamps are normalised to naive UTC. #}
{% macro lake_column_expression(name, data_type, actual_type) %}
  {%- set quoted = '"' ~ name ~ '"' -%}
  {%- if actual_type is none -%}
    cast(null as {{ data_type }}) as {{ quoted }}
  {%- elif data_type | lower == 'timestamp' and ('TZ' in actual_type or 'TIME ZONE' in actual_type or actual_type == 'VARCHAR') -%}
    timezone('UTC', cast({{ quoted }} as timestamptz)) as {{ quoted }}
  {%- else -%}
    cast({{ quoted }} as {{ data_type }}) as {{ quoted }}
  {%- endif -%}
{% endmacro %}
