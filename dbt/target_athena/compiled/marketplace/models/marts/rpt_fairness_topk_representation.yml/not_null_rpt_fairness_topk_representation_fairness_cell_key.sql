
    
    



select fairness_cell_key
from "awsdatacatalog"."marketplace_analytics_marts"."rpt_fairness_topk_representation"
where fairness_cell_key is null


