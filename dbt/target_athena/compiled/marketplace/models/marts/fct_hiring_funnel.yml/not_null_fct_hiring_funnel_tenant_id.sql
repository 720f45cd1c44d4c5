
    
    



select tenant_id
from "awsdatacatalog"."marketplace_analytics_marts"."fct_hiring_funnel"
where tenant_id is null


