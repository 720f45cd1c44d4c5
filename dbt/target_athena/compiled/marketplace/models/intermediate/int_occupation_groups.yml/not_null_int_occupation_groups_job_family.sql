
    
    



select job_family
from "awsdatacatalog"."marketplace_analytics_intermediate"."int_occupation_groups"
where job_family is null


