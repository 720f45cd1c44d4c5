
    
    



select submitted_at
from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__applications"
where submitted_at is null


