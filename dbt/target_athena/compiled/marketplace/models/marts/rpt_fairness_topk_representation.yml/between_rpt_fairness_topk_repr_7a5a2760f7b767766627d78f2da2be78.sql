
  select qualified_pool_count
  from "awsdatacatalog"."marketplace_analytics_marts"."rpt_fairness_topk_representation"
  where qualified_pool_count < 5 or qualified_pool_count > 100000000
