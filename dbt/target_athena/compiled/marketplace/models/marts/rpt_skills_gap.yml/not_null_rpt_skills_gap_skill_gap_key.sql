
    
    



select skill_gap_key
from "awsdatacatalog"."marketplace_analytics_marts"."rpt_skills_gap"
where skill_gap_key is null


