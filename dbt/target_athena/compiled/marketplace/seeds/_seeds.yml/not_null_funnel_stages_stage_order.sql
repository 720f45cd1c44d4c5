
    
    



select stage_order
from "awsdatacatalog"."marketplace_analytics_seeds"."funnel_stages"
where stage_order is null


