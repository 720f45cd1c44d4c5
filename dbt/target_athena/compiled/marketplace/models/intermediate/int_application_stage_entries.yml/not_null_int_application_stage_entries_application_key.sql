
    
    



select application_key
from "awsdatacatalog"."marketplace_analytics_intermediate"."int_application_stage_entries"
where application_key is null


