
    
    



select stage
from "awsdatacatalog"."marketplace_analytics_seeds"."funnel_stages"
where stage is null


