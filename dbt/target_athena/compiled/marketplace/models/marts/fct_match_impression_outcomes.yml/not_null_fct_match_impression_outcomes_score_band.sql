
    
    



select score_band
from "awsdatacatalog"."marketplace_analytics_marts"."fct_match_impression_outcomes"
where score_band is null


