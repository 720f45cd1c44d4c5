
  select recall_at_k_applied
  from "awsdatacatalog"."marketplace_analytics_marts"."rpt_match_precision_at_k"
  where recall_at_k_applied < 0 or recall_at_k_applied > 1
