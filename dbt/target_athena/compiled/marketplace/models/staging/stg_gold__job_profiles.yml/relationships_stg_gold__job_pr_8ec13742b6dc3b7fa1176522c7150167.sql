
    
    

with child as (
    select job_key as from_field
    from "awsdatacatalog"."marketplace_analytics_staging"."stg_gold__job_profiles"
    where job_key is not null
),

parent as (
    select job_key as to_field
    from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__job_postings"
)

select
    from_field

from child
left join parent
    on child.from_field = parent.to_field

where parent.to_field is null


