
    
    



select isco_code
from "awsdatacatalog"."marketplace_analytics_seeds"."esco_isco_groups"
where isco_code is null


