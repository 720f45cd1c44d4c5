
    
    

select
    precision_key as unique_field,
    count(*) as n_records

from "awsdatacatalog"."marketplace_analytics_marts"."rpt_match_precision_at_k"
where precision_key is not null
group by precision_key
having count(*) > 1


