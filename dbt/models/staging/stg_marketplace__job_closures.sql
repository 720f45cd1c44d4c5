-- The latest close event per job (a re-opened and re-closed job keeps its last reason).
with closures as (
    select
        tenant_id,
        job_id,
        reason as close_reason,
        hired_candidate_id,
        occurred_at as closed_at,
        row_number() over (partition by tenant_id, job_id order by occurred_at desc, event_id desc) as recency_rank
    from {{ source('silver', 'job_closed') }}
    where tenant_id is not null and job_id is not null
)

select
    tenant_id,
    job_id,
    close_reason,
    hired_candidate_id,
    closed_at,
    {{ composite_key(['tenant_id', 'job_id']) }} as job_key
from closures
where recency_rank = 1
