
  select days_to_fill
  from "awsdatacatalog"."marketplace_analytics_marts"."fct_job_fill_times"
  where days_to_fill < 0 or days_to_fill > 3650
