
    
    

with all_values as (

    select
        direction as value_field,
        count(*) as n_records

    from "awsdatacatalog"."marketplace_analytics_staging"."stg_gold__matches"
    group by direction

)

select *
from all_values
where value_field not in (
    'candidate_to_job','job_to_candidate'
)


