
    
    

select
    skill_gap_key as unique_field,
    count(*) as n_records

from "awsdatacatalog"."marketplace_analytics_marts"."rpt_skills_gap"
where skill_gap_key is not null
group by skill_gap_key
having count(*) > 1


