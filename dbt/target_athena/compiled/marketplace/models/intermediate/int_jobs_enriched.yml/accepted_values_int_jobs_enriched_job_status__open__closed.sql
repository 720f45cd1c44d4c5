
    
    

with all_values as (

    select
        job_status as value_field,
        count(*) as n_records

    from "awsdatacatalog"."marketplace_analytics_intermediate"."int_jobs_enriched"
    group by job_status

)

select *
from all_values
where value_field not in (
    'open','closed'
)


