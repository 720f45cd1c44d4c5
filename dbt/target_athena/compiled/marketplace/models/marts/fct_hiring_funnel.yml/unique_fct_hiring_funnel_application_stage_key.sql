
    
    

select
    application_stage_key as unique_field,
    count(*) as n_records

from "awsdatacatalog"."marketplace_analytics_marts"."fct_hiring_funnel"
where application_stage_key is not null
group by application_stage_key
having count(*) > 1


