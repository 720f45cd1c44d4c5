
    
    

with child as (
    select candidate_key as from_field
    from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__applications"
    where candidate_key is not null
),

parent as (
    select candidate_key as to_field
    from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__candidates"
)

select
    from_field

from child
left join parent
    on child.from_field = parent.to_field

where parent.to_field is null


