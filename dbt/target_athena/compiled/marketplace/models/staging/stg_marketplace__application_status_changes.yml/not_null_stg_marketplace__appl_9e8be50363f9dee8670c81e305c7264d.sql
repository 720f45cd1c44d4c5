
    
    



select status_change_id
from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__application_status_changes"
where status_change_id is null


