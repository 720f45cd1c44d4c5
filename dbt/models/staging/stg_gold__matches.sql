select
    tenant_id,
    run_id,
    direction,
    candidate_id,
    job_id,
    rank as match_rank,
    score as match_score,
    weights_version,
    model_version,
    cast(run_date as date) as run_date,
    {{ composite_key(['run_id', 'direction', 'tenant_id', 'candidate_id', 'job_id']) }} as match_key,
    {{ composite_key(['tenant_id', 'candidate_id']) }} as candidate_key,
    {{ composite_key(['tenant_id', 'job_id']) }} as job_key
from {{ source('gold', 'matches') }}
where tenant_id is not null
