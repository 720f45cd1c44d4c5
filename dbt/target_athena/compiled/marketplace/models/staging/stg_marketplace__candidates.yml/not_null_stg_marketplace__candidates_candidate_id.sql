
    
    



select candidate_id
from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__candidates"
where candidate_id is null


