
  select application_key, stage, count(*) as occurrences
  from "awsdatacatalog"."marketplace_analytics_intermediate"."int_application_stage_entries"
  group by application_key, stage
  having count(*) > 1
