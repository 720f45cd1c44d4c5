
    
    

select
    stage as unique_field,
    count(*) as n_records

from "awsdatacatalog"."marketplace_analytics_seeds"."funnel_stages"
where stage is not null
group by stage
having count(*) > 1


