
    
    



select balance_key
from "awsdatacatalog"."marketplace_analytics_marts"."rpt_marketplace_balance"
where balance_key is null


