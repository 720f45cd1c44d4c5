
  select apply_rate
  from "awsdatacatalog"."marketplace_analytics_marts"."rpt_match_quality_by_rank"
  where apply_rate < 0 or apply_rate > 1
