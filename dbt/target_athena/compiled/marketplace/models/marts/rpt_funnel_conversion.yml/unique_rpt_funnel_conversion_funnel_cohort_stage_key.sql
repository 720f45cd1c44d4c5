
    
    

select
    funnel_cohort_stage_key as unique_field,
    count(*) as n_records

from "awsdatacatalog"."marketplace_analytics_marts"."rpt_funnel_conversion"
where funnel_cohort_stage_key is not null
group by funnel_cohort_stage_key
having count(*) > 1


