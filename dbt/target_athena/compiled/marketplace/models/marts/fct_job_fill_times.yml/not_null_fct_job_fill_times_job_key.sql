
    
    



select job_key
from "awsdatacatalog"."marketplace_analytics_marts"."fct_job_fill_times"
where job_key is null


