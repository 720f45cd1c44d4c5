
    
    

select
    application_key as unique_field,
    count(*) as n_records

from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__applications"
where application_key is not null
group by application_key
having count(*) > 1


