
    
    



select candidate_key
from "awsdatacatalog"."marketplace_analytics_staging"."stg_gold__candidate_profiles"
where candidate_key is null


