
    
    



select match_rank
from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__match_impressions"
where match_rank is null


