
    
    

with child as (
    select impression_key as from_field
    from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__match_clicks"
    where impression_key is not null
),

parent as (
    select impression_key as to_field
    from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__match_impressions"
)

select
    from_field

from child
left join parent
    on child.from_field = parent.to_field

where parent.to_field is null


