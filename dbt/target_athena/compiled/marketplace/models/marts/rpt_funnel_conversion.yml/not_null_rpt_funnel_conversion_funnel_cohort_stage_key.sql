
    
    



select funnel_cohort_stage_key
from "awsdatacatalog"."marketplace_analytics_marts"."rpt_funnel_conversion"
where funnel_cohort_stage_key is null


