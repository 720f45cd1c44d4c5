
    
    



select isco_unit_group_code
from "awsdatacatalog"."marketplace_analytics_intermediate"."int_occupation_groups"
where isco_unit_group_code is null


