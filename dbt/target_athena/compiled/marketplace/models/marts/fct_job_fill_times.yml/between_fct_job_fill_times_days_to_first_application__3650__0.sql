
  select days_to_first_application
  from "awsdatacatalog"."marketplace_analytics_marts"."fct_job_fill_times"
  where days_to_first_application < 0 or days_to_first_application > 3650
