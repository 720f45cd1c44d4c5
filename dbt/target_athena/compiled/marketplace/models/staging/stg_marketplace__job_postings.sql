-- One row per job: first posting time, latest posted attributes (job_updated is not modelled yet).
with postings as (
    select
        tenant_id,
        job_id,
        employer_id,
        title,
        location_city,
        location_country,
        remote,
        salary_min,
        salary_max,
        salary_currency,
        salary_period,
        seniority,
        employment_type,
        occupation_hint,
        min(occurred_at) over (partition by tenant_id, job_id) as posted_at,
        row_number() over (partition by tenant_id, job_id order by occurred_at desc, event_id desc) as recency_rank
    from "awsdatacatalog"."marketplace"."job_posted"
    where tenant_id is not null and job_id is not null
)

select
    tenant_id,
    job_id,
    employer_id,
    title,
    location_city,
    location_country,
    remote,
    salary_min,
    salary_max,
    salary_currency,
    salary_period,
    seniority,
    employment_type,
    occupation_hint,
    posted_at,
    coalesce(cast(tenant_id as varchar), '~') || '|' || coalesce(cast(job_id as varchar), '~') as job_key
from postings
where recency_rank = 1