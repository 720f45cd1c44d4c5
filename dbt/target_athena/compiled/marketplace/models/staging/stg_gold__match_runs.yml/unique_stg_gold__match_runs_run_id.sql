
    
    

select
    run_id as unique_field,
    count(*) as n_records

from "awsdatacatalog"."marketplace_analytics_staging"."stg_gold__match_runs"
where run_id is not null
group by run_id
having count(*) > 1


