-- Per job: time to first application, time to fill, applications received and demand balance.
with applications as (
    select
        job_key,
        count(*) as applications_count,
        min(submitted_at) as first_application_at
    from {{ ref('stg_marketplace__applications') }}
    where submitted_at < {{ as_of_timestamp() }}
    group by job_key
)

select
    jobs.job_key,
    jobs.tenant_id,
    jobs.job_id,
    jobs.employer_id,
    jobs.job_family,
    jobs.occupation_label,
    jobs.seniority,
    jobs.posted_at,
    cast(jobs.posted_at as date) as posted_date,
    applications.first_application_at,
    coalesce(applications.applications_count, 0) as applications_count,
    jobs.closed_at,
    jobs.close_reason,
    jobs.job_status,
    coalesce(jobs.close_reason = 'filled', false) as is_filled,
    {{ days_between('jobs.posted_at', 'applications.first_application_at') }} as days_to_first_application,
    case
        when jobs.close_reason = 'filled' then {{ days_between('jobs.posted_at', 'jobs.closed_at') }}
    end as days_to_fill,
    {{ days_between('jobs.posted_at', 'coalesce(jobs.closed_at, ' ~ as_of_timestamp() ~ ')') }} as days_open,
    case
        when coalesce(applications.applications_count, 0) = 0 then 'no_applicants'
        when applications.applications_count > {{ var('too_many_applicants') }} then 'oversubscribed'
        else 'balanced'
    end as applicant_balance
from {{ ref('int_jobs_enriched') }} as jobs
left join applications on jobs.job_key = applications.job_key
