
    
    

with child as (
    select application_key as from_field
    from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__application_status_changes"
    where application_key is not null
),

parent as (
    select application_key as to_field
    from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__applications"
)

select
    from_field

from child
left join parent
    on child.from_field = parent.to_field

where parent.to_field is null


