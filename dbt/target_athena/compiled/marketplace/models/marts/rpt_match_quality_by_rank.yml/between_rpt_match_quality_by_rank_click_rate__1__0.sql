
  select click_rate
  from "awsdatacatalog"."marketplace_analytics_marts"."rpt_match_quality_by_rank"
  where click_rate < 0 or click_rate > 1
