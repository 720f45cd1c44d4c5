
    
    

select
    status_change_id as unique_field,
    count(*) as n_records

from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__application_status_changes"
where status_change_id is not null
group by status_change_id
having count(*) > 1


