
    
    

with all_values as (

    select
        run_status as value_field,
        count(*) as n_records

    from "awsdatacatalog"."marketplace_analytics_staging"."stg_gold__match_runs"
    group by run_status

)

select *
from all_values
where value_field not in (
    'audited','published','blocked'
)


