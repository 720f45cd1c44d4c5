
    
    

select
    fairness_cell_key as unique_field,
    count(*) as n_records

from "awsdatacatalog"."marketplace_analytics_marts"."rpt_fairness_topk_representation"
where fairness_cell_key is not null
group by fairness_cell_key
having count(*) > 1


