
    
    

select
    impression_key as unique_field,
    count(*) as n_records

from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__match_impressions"
where impression_key is not null
group by impression_key
having count(*) > 1


