
    
    

select
    isco_code as unique_field,
    count(*) as n_records

from "awsdatacatalog"."marketplace_analytics_seeds"."esco_isco_groups"
where isco_code is not null
group by isco_code
having count(*) > 1


