
    
    



select job_key
from "awsdatacatalog"."marketplace_analytics_intermediate"."int_jobs_enriched"
where job_key is null


