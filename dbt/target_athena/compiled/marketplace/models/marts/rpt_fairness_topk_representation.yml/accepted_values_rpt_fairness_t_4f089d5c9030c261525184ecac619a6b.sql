
    
    

with all_values as (

    select
        attribute_name as value_field,
        count(*) as n_records

    from "awsdatacatalog"."marketplace_analytics_marts"."rpt_fairness_topk_representation"
    group by attribute_name

)

select *
from all_values
where value_field not in (
    'gender','age_band'
)


