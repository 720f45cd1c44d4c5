
    
    

select
    balance_key as unique_field,
    count(*) as n_records

from "awsdatacatalog"."marketplace_analytics_marts"."rpt_marketplace_balance"
where balance_key is not null
group by balance_key
having count(*) > 1


