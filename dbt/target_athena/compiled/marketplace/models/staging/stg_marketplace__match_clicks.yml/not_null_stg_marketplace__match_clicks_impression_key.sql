
    
    



select impression_key
from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__match_clicks"
where impression_key is null


