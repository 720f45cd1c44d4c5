
    
    



select job_key
from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__job_postings"
where job_key is null


