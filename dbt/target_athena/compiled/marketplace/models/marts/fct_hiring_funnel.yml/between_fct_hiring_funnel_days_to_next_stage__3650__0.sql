
  select days_to_next_stage
  from "awsdatacatalog"."marketplace_analytics_marts"."fct_hiring_funnel"
  where days_to_next_stage < 0 or days_to_next_stage > 3650
