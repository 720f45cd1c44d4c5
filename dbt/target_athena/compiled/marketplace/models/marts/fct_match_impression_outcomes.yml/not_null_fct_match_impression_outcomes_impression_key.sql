
    
    



select impression_key
from "awsdatacatalog"."marketplace_analytics_marts"."fct_match_impression_outcomes"
where impression_key is null


