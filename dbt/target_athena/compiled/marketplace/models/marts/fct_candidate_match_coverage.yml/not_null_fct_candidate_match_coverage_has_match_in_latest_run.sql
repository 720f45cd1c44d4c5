
    
    



select has_match_in_latest_run
from "awsdatacatalog"."marketplace_analytics_marts"."fct_candidate_match_coverage"
where has_match_in_latest_run is null


