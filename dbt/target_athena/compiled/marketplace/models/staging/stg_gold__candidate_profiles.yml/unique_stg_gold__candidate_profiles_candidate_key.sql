
    
    

select
    candidate_key as unique_field,
    count(*) as n_records

from "awsdatacatalog"."marketplace_analytics_staging"."stg_gold__candidate_profiles"
where candidate_key is not null
group by candidate_key
having count(*) > 1


