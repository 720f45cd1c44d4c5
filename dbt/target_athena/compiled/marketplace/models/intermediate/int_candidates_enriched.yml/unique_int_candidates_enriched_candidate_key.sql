
    
    

select
    candidate_key as unique_field,
    count(*) as n_records

from "awsdatacatalog"."marketplace_analytics_intermediate"."int_candidates_enriched"
where candidate_key is not null
group by candidate_key
having count(*) > 1


