
  select conversion_from_previous_stage
  from "awsdatacatalog"."marketplace_analytics_marts"."rpt_funnel_conversion"
  where conversion_from_previous_stage < 0 or conversion_from_previous_stage > 1
