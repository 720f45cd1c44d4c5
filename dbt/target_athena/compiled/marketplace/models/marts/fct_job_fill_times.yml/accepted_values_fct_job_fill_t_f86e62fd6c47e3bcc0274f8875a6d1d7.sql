
    
    

with all_values as (

    select
        applicant_balance as value_field,
        count(*) as n_records

    from "awsdatacatalog"."marketplace_analytics_marts"."fct_job_fill_times"
    group by applicant_balance

)

select *
from all_values
where value_field not in (
    'no_applicants','balanced','oversubscribed'
)


