
    
    



select match_rank
from "awsdatacatalog"."marketplace_analytics_staging"."stg_gold__matches"
where match_rank is null


