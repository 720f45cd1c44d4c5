
    
    



select job_key
from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__applications"
where job_key is null


