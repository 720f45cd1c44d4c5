-- One row per impression (a re-sent impression event keeps the first time it was shown).
with impressions as (
    select
        tenant_id,
        impression_id,
        candidate_id,
        job_id,
        match_run_id,
        rank as match_rank,
        score as match_score,
        surface,
        occurred_at as shown_at,
        row_number() over (partition by tenant_id, impression_id order by occurred_at, event_id) as arrival_rank
    from {{ source('silver', 'match_impression') }}
    where tenant_id is not null and impression_id is not null
)

select
    tenant_id,
    impression_id,
    candidate_id,
    job_id,
    match_run_id,
    match_rank,
    match_score,
    surface,
    shown_at,
    {{ composite_key(['tenant_id', 'impression_id']) }} as impression_key
from impressions
where arrival_rank = 1
