
    
    



select application_key
from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__application_status_changes"
where application_key is null


