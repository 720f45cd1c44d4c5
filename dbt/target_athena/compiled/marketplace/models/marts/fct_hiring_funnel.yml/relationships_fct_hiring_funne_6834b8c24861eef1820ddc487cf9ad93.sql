
    
    

with child as (
    select stage as from_field
    from "awsdatacatalog"."marketplace_analytics_marts"."fct_hiring_funnel"
    where stage is not null
),

parent as (
    select stage as to_field
    from "awsdatacatalog"."marketplace_analytics_seeds"."funnel_stages"
)

select
    from_field

from child
left join parent
    on child.from_field = parent.to_field

where parent.to_field is null


