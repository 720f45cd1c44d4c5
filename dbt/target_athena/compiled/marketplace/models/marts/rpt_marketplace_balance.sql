-- Supply/demand balance per tenant and job family, plus an "All job families" roll-up per tenant.

with job_balance as (
    
    select
        tenant_id,
        job_family as job_family,
        count(*) as jobs,
        sum(case when job_status = 'open' then 1 else 0 end) as open_jobs,
        sum(applications_count) as applications,
        round(avg(applications_count), 2) as applications_per_job,
        approx_percentile(applications_count, 0.5) as median_applications_per_job,
        sum(case when applicant_balance = 'no_applicants' then 1 else 0 end) as jobs_with_zero_applicants,
        sum(case when applicant_balance = 'oversubscribed' then 1 else 0 end) as jobs_oversubscribed
    from "awsdatacatalog"."marketplace_analytics_marts"."fct_job_fill_times"
    group by 1, 2
    union all
    
    select
        tenant_id,
        'All job families' as job_family,
        count(*) as jobs,
        sum(case when job_status = 'open' then 1 else 0 end) as open_jobs,
        sum(applications_count) as applications,
        round(avg(applications_count), 2) as applications_per_job,
        approx_percentile(applications_count, 0.5) as median_applications_per_job,
        sum(case when applicant_balance = 'no_applicants' then 1 else 0 end) as jobs_with_zero_applicants,
        sum(case when applicant_balance = 'oversubscribed' then 1 else 0 end) as jobs_oversubscribed
    from "awsdatacatalog"."marketplace_analytics_marts"."fct_job_fill_times"
    group by 1, 2
    
    
),

candidate_balance as (
    
    select
        tenant_id,
        job_family as job_family,
        count(*) as candidates,
        sum(case when has_match_in_latest_run then 0 else 1 end) as candidates_without_match,
        sum(case when applications_count = 0 then 1 else 0 end) as candidates_without_application
    from "awsdatacatalog"."marketplace_analytics_marts"."fct_candidate_match_coverage"
    group by 1, 2
    union all
    
    select
        tenant_id,
        'All job families' as job_family,
        count(*) as candidates,
        sum(case when has_match_in_latest_run then 0 else 1 end) as candidates_without_match,
        sum(case when applications_count = 0 then 1 else 0 end) as candidates_without_application
    from "awsdatacatalog"."marketplace_analytics_marts"."fct_candidate_match_coverage"
    group by 1, 2
    
    
)

select
    coalesce(cast(coalesce(job_balance.tenant_id, candidate_balance.tenant_id) as varchar), '~') || '|' || coalesce(cast(coalesce(job_balance.job_family, candidate_balance.job_family) as varchar), '~') as balance_key,
    coalesce(job_balance.tenant_id, candidate_balance.tenant_id) as tenant_id,
    coalesce(job_balance.job_family, candidate_balance.job_family) as job_family,
    coalesce(job_balance.jobs, 0) as jobs,
    coalesce(job_balance.open_jobs, 0) as open_jobs,
    coalesce(job_balance.applications, 0) as applications,
    job_balance.applications_per_job,
    job_balance.median_applications_per_job,
    coalesce(job_balance.jobs_with_zero_applicants, 0) as jobs_with_zero_applicants,
    coalesce(job_balance.jobs_oversubscribed, 0) as jobs_oversubscribed,
    coalesce(candidate_balance.candidates, 0) as candidates,
    coalesce(candidate_balance.candidates_without_match, 0) as candidates_without_match,
    coalesce(candidate_balance.candidates_without_application, 0) as candidates_without_application,
    round(cast(candidate_balance.candidates as double) / nullif(job_balance.open_jobs, 0), 2) as candidates_per_open_job,
    round(cast(candidate_balance.candidates_without_match as double) / nullif(candidate_balance.candidates, 0), 4) as share_candidates_without_match
from job_balance
full outer join candidate_balance
    on job_balance.tenant_id = candidate_balance.tenant_id
    and job_balance.job_family = candidate_balance.job_family