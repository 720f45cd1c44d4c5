
    
    



select rank_bucket
from "awsdatacatalog"."marketplace_analytics_marts"."fct_match_impression_outcomes"
where rank_bucket is null


