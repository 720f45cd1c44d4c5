-- Offline precision@k of each published run's candidate->job lists against what candidates did
-- later: a listed job counts as relevant when the candidate applied to it on or after the run
-- date (or was hired for it). Averaged over candidates with at least one later application
-- (resp. hire) - candidates who did nothing tell us nothing about ranking quality.
with published_matches as (
    select
        matches.tenant_id,
        matches.run_id,
        runs.run_date,
        runs.weights_version,
        matches.candidate_key,
        matches.candidate_id,
        matches.job_id,
        matches.match_rank
    from {{ ref('stg_gold__matches') }} as matches
    inner join {{ ref('stg_gold__match_runs') }} as runs on matches.run_id = runs.run_id
    where runs.run_status = 'published'
        and matches.direction = 'candidate_to_job'
        and runs.run_date <= {{ as_of_date() }}
),

run_candidates as (
    select distinct
        tenant_id,
        run_id,
        run_date,
        weights_version,
        candidate_key
    from published_matches
),

hired_applications as (
    select application_key from {{ ref('int_application_stage_entries') }} where stage = 'hired'
),

later_outcomes as (
    -- every job each run candidate applied to after the run, and whether it led to a hire
    select
        run_candidates.run_id,
        applications.candidate_key,
        applications.job_id,
        max(case when hired_applications.application_key is not null then 1 else 0 end) as is_hired
    from run_candidates
    inner join {{ ref('stg_marketplace__applications') }} as applications
        on run_candidates.candidate_key = applications.candidate_key
            and cast(applications.submitted_at as date) >= run_candidates.run_date
            and applications.submitted_at < {{ as_of_timestamp() }}
    left join hired_applications on applications.application_key = hired_applications.application_key
    group by run_candidates.run_id, applications.candidate_key, applications.job_id
),

candidate_relevance as (
    select
        run_id,
        candidate_key,
        count(*) as relevant_applied,
        sum(is_hired) as relevant_hired
    from later_outcomes
    group by run_id, candidate_key
),

cutoffs as (
    {% for k in var('precision_at_k') %}
        select {{ k }} as k {% if not loop.last %}
            union all{% endif %}
    {% endfor %}
),

hits as (
    select
        run_candidates.tenant_id,
        run_candidates.run_id,
        run_candidates.run_date,
        run_candidates.weights_version,
        run_candidates.candidate_key,
        cutoffs.k,
        coalesce(candidate_relevance.relevant_applied, 0) as relevant_applied,
        coalesce(candidate_relevance.relevant_hired, 0) as relevant_hired,
        count(later_outcomes.job_id) as hits_applied,
        coalesce(sum(later_outcomes.is_hired), 0) as hits_hired
    from run_candidates
    cross join cutoffs
    left join candidate_relevance
        on run_candidates.run_id = candidate_relevance.run_id
            and run_candidates.candidate_key = candidate_relevance.candidate_key
    left join published_matches
        on run_candidates.run_id = published_matches.run_id
            and run_candidates.candidate_key = published_matches.candidate_key
            and cutoffs.k >= published_matches.match_rank
    left join later_outcomes
        on published_matches.run_id = later_outcomes.run_id
            and published_matches.candidate_key = later_outcomes.candidate_key
            and published_matches.job_id = later_outcomes.job_id
    group by
        run_candidates.tenant_id, run_candidates.run_id, run_candidates.run_date,
        run_candidates.weights_version, run_candidates.candidate_key, cutoffs.k,
        candidate_relevance.relevant_applied, candidate_relevance.relevant_hired
)

select
    {{ composite_key(['tenant_id', 'run_id', 'k']) }} as precision_key,
    tenant_id,
    run_id,
    run_date,
    weights_version,
    k,
    count(*) as candidates_in_run,
    sum(case when relevant_applied > 0 then 1 else 0 end) as candidates_evaluated,
    -- Integer sums only (float averages differ in the last bits between threads): precision and
    -- hit rate are exact ratios of counts; recall is averaged in integer parts-per-million.
    {{ safe_ratio('sum(case when relevant_applied > 0 then hits_applied else 0 end)',
                  'k * sum(case when relevant_applied > 0 then 1 else 0 end)') }} as precision_at_k_applied,
    round(avg(
        case
            when relevant_applied > 0
                then cast(round(1000000.0 * hits_applied / relevant_applied) as bigint)
        end
    ) / 1000000.0, 4) as recall_at_k_applied,
    {{ safe_ratio('sum(case when relevant_applied > 0 and hits_applied > 0 then 1 else 0 end)',
                  'sum(case when relevant_applied > 0 then 1 else 0 end)') }} as hit_rate_at_k_applied,
    sum(case when relevant_hired > 0 then 1 else 0 end) as candidates_hired,
    {{ safe_ratio('sum(case when relevant_hired > 0 then hits_hired else 0 end)',
                  'k * sum(case when relevant_hired > 0 then 1 else 0 end)') }} as precision_at_k_hired
from hits
group by tenant_id, run_id, run_date, weights_version, k
