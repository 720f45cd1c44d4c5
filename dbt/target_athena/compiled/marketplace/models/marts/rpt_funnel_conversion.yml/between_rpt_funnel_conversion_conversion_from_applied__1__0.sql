
  select conversion_from_applied
  from "awsdatacatalog"."marketplace_analytics_marts"."rpt_funnel_conversion"
  where conversion_from_applied < 0 or conversion_from_applied > 1
