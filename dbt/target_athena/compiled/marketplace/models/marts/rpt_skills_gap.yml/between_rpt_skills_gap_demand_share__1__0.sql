
  select demand_share
  from "awsdatacatalog"."marketplace_analytics_marts"."rpt_skills_gap"
  where demand_share < 0 or demand_share > 1
