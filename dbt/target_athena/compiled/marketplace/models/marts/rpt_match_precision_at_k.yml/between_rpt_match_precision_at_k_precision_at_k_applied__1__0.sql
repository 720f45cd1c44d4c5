
  select precision_at_k_applied
  from "awsdatacatalog"."marketplace_analytics_marts"."rpt_match_precision_at_k"
  where precision_at_k_applied < 0 or precision_at_k_applied > 1
