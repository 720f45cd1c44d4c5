
    
    

select
    match_quality_key as unique_field,
    count(*) as n_records

from "awsdatacatalog"."marketplace_analytics_marts"."rpt_match_quality_by_rank"
where match_quality_key is not null
group by match_quality_key
having count(*) > 1


