
    
    



select job_id
from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__job_postings"
where job_id is null


