-- Supply/demand balance per tenant and job family, plus an "All job families" roll-up per tenant.
{% set levels = [('job_family', 'job_family'), ("'All job families'", 'job_family')] %}
with job_balance as (
    {% for expression, alias in levels %}
        select
            tenant_id,
            {{ expression }} as {{ alias }},
            count(*) as jobs,
            sum(case when job_status = 'open' then 1 else 0 end) as open_jobs,
            sum(applications_count) as applications,
            round(avg(applications_count), 2) as applications_per_job,
            {{ median('applications_count') }} as median_applications_per_job,
            sum(case when applicant_balance = 'no_applicants' then 1 else 0 end) as jobs_with_zero_applicants,
            sum(case when applicant_balance = 'oversubscribed' then 1 else 0 end) as jobs_oversubscribed
        from {{ ref('fct_job_fill_times') }}
        group by 1, 2
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

candidate_balance as (
    {% for expression, alias in levels %}
        select
            tenant_id,
            {{ expression }} as {{ alias }},
            count(*) as candidates,
            sum(case when has_match_in_latest_run then 0 else 1 end) as candidates_without_match,
            sum(case when applications_count = 0 then 1 else 0 end) as candidates_without_application
        from {{ ref('fct_candidate_match_coverage') }}
        group by 1, 2
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select
    {{ composite_key(['coalesce(job_balance.tenant_id, candidate_balance.tenant_id)',
                      'coalesce(job_balance.job_family, candidate_balance.job_family)']) }} as balance_key,
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
    {{ safe_ratio('candidate_balance.candidates', 'job_balance.open_jobs', 2) }} as candidates_per_open_job,
    {{ safe_ratio('candidate_balance.candidates_without_match', 'candidate_balance.candidates') }} as share_candidates_without_match
from job_balance
full outer join candidate_balance
    on job_balance.tenant_id = candidate_balance.tenant_id
        and job_balance.job_family = candidate_balance.job_family
