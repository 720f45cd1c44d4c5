
    
    



select tenant_id
from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__job_postings"
where tenant_id is null


