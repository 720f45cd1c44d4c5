
    
    

with all_values as (

    select
        close_reason as value_field,
        count(*) as n_records

    from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__job_closures"
    group by close_reason

)

select *
from all_values
where value_field not in (
    'filled','cancelled','expired'
)


