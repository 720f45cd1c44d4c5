
  select share_candidates_without_match
  from "awsdatacatalog"."marketplace_analytics_marts"."rpt_marketplace_balance"
  where share_candidates_without_match < 0 or share_candidates_without_match > 1
