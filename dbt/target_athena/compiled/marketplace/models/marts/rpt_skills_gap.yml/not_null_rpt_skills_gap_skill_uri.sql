
    
    



select skill_uri
from "awsdatacatalog"."marketplace_analytics_marts"."rpt_skills_gap"
where skill_uri is null


