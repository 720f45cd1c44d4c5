
    
    



select run_id
from "awsdatacatalog"."marketplace_analytics_staging"."stg_gold__matches"
where run_id is null


