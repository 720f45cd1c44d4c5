-- Per candidate: did the tenant's latest published match run give them any match? (No PII.)
with published_runs as (
    select distinct
        matches.tenant_id,
        matches.run_id,
        runs.run_date,
        runs.created_at
    from {{ ref('stg_gold__matches') }} as matches
    inner join {{ ref('stg_gold__match_runs') }} as runs on matches.run_id = runs.run_id
    where runs.run_status = 'published' and runs.run_date <= {{ as_of_date() }}
),

latest_runs as (
    select
        tenant_id,
        run_id
    from (
        select
            tenant_id,
            run_id,
            row_number() over (partition by tenant_id order by run_date desc, created_at desc, run_id desc) as recency
        from published_runs
    ) as ranked
    where recency = 1
),

latest_matches as (
    select
        matches.candidate_key,
        count(*) as matches_in_latest_run
    from {{ ref('stg_gold__matches') }} as matches
    inner join latest_runs
        on matches.tenant_id = latest_runs.tenant_id and matches.run_id = latest_runs.run_id
    group by matches.candidate_key
),

impressions as (
    select
        {{ composite_key(['tenant_id', 'candidate_id']) }} as candidate_key,
        count(*) as impressions_count
    from {{ ref('stg_marketplace__match_impressions') }}
    where shown_at < {{ as_of_timestamp() }}
    group by tenant_id, candidate_id
),

applications as (
    select
        candidate_key,
        count(*) as applications_count
    from {{ ref('stg_marketplace__applications') }}
    where submitted_at < {{ as_of_timestamp() }}
    group by candidate_key
)

select
    candidates.candidate_key,
    candidates.tenant_id,
    candidates.candidate_id,
    candidates.job_family,
    candidates.has_profile,
    cast(candidates.registered_at as date) as registered_date,
    latest_runs.run_id as latest_run_id,
    coalesce(latest_matches.matches_in_latest_run, 0) as matches_in_latest_run,
    coalesce(latest_matches.matches_in_latest_run, 0) > 0 as has_match_in_latest_run,
    coalesce(impressions.impressions_count, 0) as impressions_count,
    coalesce(applications.applications_count, 0) as applications_count
from {{ ref('int_candidates_enriched') }} as candidates
left join latest_runs on candidates.tenant_id = latest_runs.tenant_id
left join latest_matches on candidates.candidate_key = latest_matches.candidate_key
left join impressions on candidates.candidate_key = impressions.candidate_key
left join applications on candidates.candidate_key = applications.candidate_key
