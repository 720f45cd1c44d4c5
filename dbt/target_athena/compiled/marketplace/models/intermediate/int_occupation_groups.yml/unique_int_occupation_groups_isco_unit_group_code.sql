
    
    

select
    isco_unit_group_code as unique_field,
    count(*) as n_records

from "awsdatacatalog"."marketplace_analytics_intermediate"."int_occupation_groups"
where isco_unit_group_code is not null
group by isco_unit_group_code
having count(*) > 1


