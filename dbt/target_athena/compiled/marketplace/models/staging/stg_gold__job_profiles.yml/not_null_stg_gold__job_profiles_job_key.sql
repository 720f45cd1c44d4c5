
    
    



select job_key
from "awsdatacatalog"."marketplace_analytics_staging"."stg_gold__job_profiles"
where job_key is null


