
    
    

with child as (
    select candidate_key as from_field
    from "awsdatacatalog"."marketplace_analytics_marts"."fct_candidate_match_coverage"
    where candidate_key is not null
),

parent as (
    select candidate_key as to_field
    from "awsdatacatalog"."marketplace_analytics_intermediate"."int_candidates_enriched"
)

select
    from_field

from child
left join parent
    on child.from_field = parent.to_field

where parent.to_field is null


