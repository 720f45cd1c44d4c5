
    
    



select application_stage_key
from "awsdatacatalog"."marketplace_analytics_marts"."fct_hiring_funnel"
where application_stage_key is null


