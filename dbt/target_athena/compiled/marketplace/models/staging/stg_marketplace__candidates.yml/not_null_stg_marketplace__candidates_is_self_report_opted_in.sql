
    
    



select is_self_report_opted_in
from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__candidates"
where is_self_report_opted_in is null


