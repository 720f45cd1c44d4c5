
    
    



select tenant_id
from "awsdatacatalog"."marketplace_analytics_marts"."rpt_marketplace_balance"
where tenant_id is null


