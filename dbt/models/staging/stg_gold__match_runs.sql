-- One row per run id (a re-run of the same date overwrites; keep the newest record).
with runs as (
    select
        run_id,
        cast(run_date as date) as run_date,
        weights_version,
        model_version,
        candidates as candidates_scored,
        jobs as jobs_scored,
        pairs_scored,
        matches_written,
        status as run_status,
        created_at,
        row_number() over (partition by run_id order by updated_at desc, created_at desc) as recency_rank
    from {{ source('gold', 'match_runs') }}
    where run_id is not null
)

select
    run_id,
    run_date,
    weights_version,
    model_version,
    candidates_scored,
    jobs_scored,
    pairs_scored,
    matches_written,
    run_status,
    created_at
from runs
where recency_rank = 1
