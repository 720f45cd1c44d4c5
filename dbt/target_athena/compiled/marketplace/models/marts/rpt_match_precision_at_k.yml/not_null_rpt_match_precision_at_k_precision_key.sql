
    
    



select precision_key
from "awsdatacatalog"."marketplace_analytics_marts"."rpt_match_precision_at_k"
where precision_key is null


