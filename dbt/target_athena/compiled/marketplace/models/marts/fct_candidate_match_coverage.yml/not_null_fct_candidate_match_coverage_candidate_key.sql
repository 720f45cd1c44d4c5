
    
    



select candidate_key
from "awsdatacatalog"."marketplace_analytics_marts"."fct_candidate_match_coverage"
where candidate_key is null


