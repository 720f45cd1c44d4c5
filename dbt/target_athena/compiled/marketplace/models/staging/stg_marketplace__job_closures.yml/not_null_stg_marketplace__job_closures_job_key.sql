
    
    



select job_key
from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__job_closures"
where job_key is null


