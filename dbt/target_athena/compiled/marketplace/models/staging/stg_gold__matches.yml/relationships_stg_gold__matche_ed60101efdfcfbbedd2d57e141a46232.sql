
    
    

with child as (
    select run_id as from_field
    from "awsdatacatalog"."marketplace_analytics_staging"."stg_gold__matches"
    where run_id is not null
),

parent as (
    select run_id as to_field
    from "awsdatacatalog"."marketplace_analytics_staging"."stg_gold__match_runs"
)

select
    from_field

from child
left join parent
    on child.from_field = parent.to_field

where parent.to_field is null


