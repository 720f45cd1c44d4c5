
    
    



select match_key
from "awsdatacatalog"."marketplace_analytics_staging"."stg_gold__matches"
where match_key is null


