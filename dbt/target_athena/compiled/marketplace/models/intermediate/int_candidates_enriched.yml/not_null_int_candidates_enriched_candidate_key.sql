
    
    



select candidate_key
from "awsdatacatalog"."marketplace_analytics_intermediate"."int_candidates_enriched"
where candidate_key is null


