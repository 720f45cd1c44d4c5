
    
    



select match_quality_key
from "awsdatacatalog"."marketplace_analytics_marts"."rpt_match_quality_by_rank"
where match_quality_key is null


