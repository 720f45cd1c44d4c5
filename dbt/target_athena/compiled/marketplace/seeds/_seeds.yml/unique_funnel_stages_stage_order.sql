
    
    

select
    stage_order as unique_field,
    count(*) as n_records

from "awsdatacatalog"."marketplace_analytics_seeds"."funnel_stages"
where stage_order is not null
group by stage_order
having count(*) > 1


