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
    coalesce(cast(run_id as varchar), '~') || '|' || coalesce(cast(direction as varchar), '~') || '|' || coalesce(cast(tenant_id as varchar), '~') || '|' || coalesce(cast(candidate_id as varchar), '~') || '|' || coalesce(cast(job_id as varchar), '~') as match_key,
    coalesce(cast(tenant_id as varchar), '~') || '|' || coalesce(cast(candidate_id as varchar), '~') as candidate_key,
    coalesce(cast(tenant_id as varchar), '~') || '|' || coalesce(cast(job_id as varchar), '~') as job_key
from "awsdatacatalog"."marketplace"."matches"
where tenant_id is not null