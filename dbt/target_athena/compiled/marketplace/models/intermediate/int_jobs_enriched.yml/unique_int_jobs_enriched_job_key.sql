
    
    

select
    job_key as unique_field,
    count(*) as n_records

from "awsdatacatalog"."marketplace_analytics_intermediate"."int_jobs_enriched"
where job_key is not null
group by job_key
having count(*) > 1


