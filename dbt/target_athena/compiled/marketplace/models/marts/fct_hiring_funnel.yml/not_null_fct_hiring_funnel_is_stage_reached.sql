
    
    



select is_stage_reached
from "awsdatacatalog"."marketplace_analytics_marts"."fct_hiring_funnel"
where is_stage_reached is null


