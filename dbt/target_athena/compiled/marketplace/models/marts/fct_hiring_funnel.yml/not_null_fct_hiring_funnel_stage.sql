
    
    



select stage
from "awsdatacatalog"."marketplace_analytics_marts"."fct_hiring_funnel"
where stage is null


