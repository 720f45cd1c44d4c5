
  select match_score
  from "awsdatacatalog"."marketplace_analytics_staging"."stg_gold__matches"
  where match_score < 0 or match_score > 1
