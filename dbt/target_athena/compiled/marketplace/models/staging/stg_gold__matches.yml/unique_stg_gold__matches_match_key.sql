
    
    

select
    match_key as unique_field,
    count(*) as n_records

from "awsdatacatalog"."marketplace_analytics_staging"."stg_gold__matches"
where match_key is not null
group by match_key
having count(*) > 1


