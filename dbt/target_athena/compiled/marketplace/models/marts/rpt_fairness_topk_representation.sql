-- Fairness audit: is each self-reported group represented in employers' top-k candidate lists
-- (job_to_candidate, rank <= fairness_top_k) as it is in the qualified pool (candidates with any
-- match scoring >= fairness_qualified_min_score in the run)? Only candidates who opted in to
-- self-reporting are counted. Cells below fairness_min_cell_size are suppressed: their counts and
-- shares are NULL and is_suppressed is true.

with opted_in_attributes as (
    select candidate_key, 'gender' as attribute_name, coalesce(self_reported_gender, 'not_disclosed') as attribute_value
    from "awsdatacatalog"."marketplace_analytics_intermediate"."int_candidates_enriched"
    where is_self_report_opted_in
    union all
    select candidate_key, 'age_band' as attribute_name, coalesce(self_reported_age_band, 'not_disclosed') as attribute_value
    from "awsdatacatalog"."marketplace_analytics_intermediate"."int_candidates_enriched"
    where is_self_report_opted_in
),

run_pairs as (
    select
        matches.tenant_id,
        matches.run_id,
        runs.weights_version,
        matches.candidate_key,
        matches.direction,
        matches.match_rank,
        matches.match_score,
        coalesce(jobs.job_family, 'Unclassified') as job_family
    from "awsdatacatalog"."marketplace_analytics_staging"."stg_gold__matches" as matches
    inner join "awsdatacatalog"."marketplace_analytics_staging"."stg_gold__match_runs" as runs on matches.run_id = runs.run_id
    left join "awsdatacatalog"."marketplace_analytics_intermediate"."int_jobs_enriched" as jobs on matches.job_key = jobs.job_key
    where runs.run_status in ('published', 'audited') and runs.run_date <= cast('2026-11-22' as date)
),

memberships as (
    -- one row per candidate x (run, job family or all) x membership (pool / top-k)
    
    select distinct tenant_id, run_id, weights_version, job_family as job_family, candidate_key, 'pool' as membership
    from run_pairs
    where match_score >= 0.6
    union all
    select distinct tenant_id, run_id, weights_version, job_family as job_family, candidate_key, 'top_k' as membership
    from run_pairs
    where direction = 'job_to_candidate' and match_rank <= 5
    union all
    
    select distinct tenant_id, run_id, weights_version, 'All job families' as job_family, candidate_key, 'pool' as membership
    from run_pairs
    where match_score >= 0.6
    union all
    select distinct tenant_id, run_id, weights_version, 'All job families' as job_family, candidate_key, 'top_k' as membership
    from run_pairs
    where direction = 'job_to_candidate' and match_rank <= 5
    
    
),

group_counts as (
    select
        memberships.tenant_id,
        memberships.run_id,
        memberships.weights_version,
        memberships.job_family,
        attributes.attribute_name,
        attributes.attribute_value,
        count(distinct case when memberships.membership = 'pool' then memberships.candidate_key end) as pool_count,
        count(distinct case when memberships.membership = 'top_k' then memberships.candidate_key end) as top_k_count
    from memberships
    inner join opted_in_attributes as attributes on memberships.candidate_key = attributes.candidate_key
    group by 1, 2, 3, 4, 5, 6
),

with_shares as (
    select
        group_counts.*,
        cast(pool_count as double)
            / nullif(sum(pool_count) over (partition by tenant_id, run_id, job_family, attribute_name), 0) as pool_share,
        cast(top_k_count as double)
            / nullif(sum(top_k_count) over (partition by tenant_id, run_id, job_family, attribute_name), 0) as top_k_share,
        pool_count < 5 or (top_k_count > 0 and top_k_count < 5) as is_suppressed
    from group_counts
)

select
    coalesce(cast(tenant_id as varchar), '~') || '|' || coalesce(cast(run_id as varchar), '~') || '|' || coalesce(cast(job_family as varchar), '~') || '|' || coalesce(cast(attribute_name as varchar), '~') || '|' || coalesce(cast(attribute_value as varchar), '~')
        as fairness_cell_key,
    tenant_id,
    run_id,
    weights_version,
    job_family,
    attribute_name,
    attribute_value,
    is_suppressed,
    case when not is_suppressed then pool_count end as qualified_pool_count,
    case when not is_suppressed then top_k_count end as top_k_count,
    case when not is_suppressed then round(pool_share, 4) end as qualified_pool_share,
    case when not is_suppressed then round(top_k_share, 4) end as top_k_share,
    case when not is_suppressed then round(top_k_share / nullif(pool_share, 0), 3) end as representation_ratio,
    5 as top_k,
    5 as min_cell_size
from with_shares