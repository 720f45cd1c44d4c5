
    
    



select gap_rank
from "awsdatacatalog"."marketplace_analytics_marts"."rpt_skills_gap"
where gap_rank is null


