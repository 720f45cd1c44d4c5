
    
    

with all_values as (

    select
        to_status as value_field,
        count(*) as n_records

    from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__application_status_changes"
    group by to_status

)

select *
from all_values
where value_field not in (
    'applied','screened','interviewed','offered','hired','rejected','withdrawn'
)


