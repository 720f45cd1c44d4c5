
    
    



select run_id
from "awsdatacatalog"."marketplace_analytics_staging"."stg_gold__match_runs"
where run_id is null


