
    
    



select candidate_key
from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__applications"
where candidate_key is null


