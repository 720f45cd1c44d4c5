
    
    



select is_suppressed
from "awsdatacatalog"."marketplace_analytics_marts"."rpt_fairness_topk_representation"
where is_suppressed is null


