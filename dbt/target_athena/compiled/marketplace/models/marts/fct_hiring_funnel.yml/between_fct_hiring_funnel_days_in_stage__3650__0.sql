
  select days_in_stage
  from "awsdatacatalog"."marketplace_analytics_marts"."fct_hiring_funnel"
  where days_in_stage < 0 or days_in_stage > 3650
