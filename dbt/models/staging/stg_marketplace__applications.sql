-- One row per application (first submission event wins).
with submissions as (
    select
        tenant_id,
        application_id,
        candidate_id,
        job_id,
        source as application_source,
        match_run_id,
        occurred_at as submitted_at,
        row_number() over (partition by tenant_id, application_id order by occurred_at, event_id) as arrival_rank
    from {{ source('silver', 'application_submitted') }}
    where tenant_id is not null and application_id is not null
)

select
    tenant_id,
    application_id,
    candidate_id,
    job_id,
    coalesce(application_source, 'unknown') as application_source,
    match_run_id,
    submitted_at,
    {{ composite_key(['tenant_id', 'application_id']) }} as application_key,
    {{ composite_key(['tenant_id', 'job_id']) }} as job_key,
    {{ composite_key(['tenant_id', 'candidate_id']) }} as candidate_key
from submissions
where arrival_rank = 1
