
    
    



select application_key
from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__applications"
where application_key is null


