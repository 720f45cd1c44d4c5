
    
    

select
    job_key as unique_field,
    count(*) as n_records

from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__job_postings"
where job_key is not null
group by job_key
having count(*) > 1


