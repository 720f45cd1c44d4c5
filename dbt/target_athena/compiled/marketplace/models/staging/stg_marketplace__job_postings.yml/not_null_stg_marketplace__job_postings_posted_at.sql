
    
    



select posted_at
from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__job_postings"
where posted_at is null


