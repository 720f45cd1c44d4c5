-- Fairness audit: is each self-reported group represented in employers' top-k candidate lists
-- (job_to_candidate, rank <= fairness_top_k) as it is in the qualified pool (candidates with any
-- match scoring >= fairness_qualified_min_score in the run)? Only candidates who opted in to
-- self-reporting are counted. Cells below fairness_min_cell_size are suppressed: their counts and
-- shares are NULL and is_suppressed is true.
{% set min_cell = var('fairness_min_cell_size') %}
with opted_in_attributes as (
    select
        candidate_key,
        'gender' as attribute_name,
        coalesce(self_reported_gender, 'not_disclosed') as attribute_value
    from {{ ref('int_candidates_enriched') }}
    where is_self_report_opted_in
    union all
    select
        candidate_key,
        'age_band' as attribute_name,
        coalesce(self_reported_age_band, 'not_disclosed') as attribute_value
    from {{ ref('int_candidates_enriched') }}
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
    from {{ ref('stg_gold__matches') }} as matches
    inner join {{ ref('stg_gold__match_runs') }} as runs on matches.run_id = runs.run_id
    left join {{ ref('int_jobs_enriched') }} as jobs on matches.job_key = jobs.job_key
    where runs.run_status in ('published', 'audited') and runs.run_date <= {{ as_of_date() }}
),

memberships as (
    -- one row per candidate x (run, job family or all) x membership (pool / top-k)
    {% for family in ['job_family', "'All job families'"] %}
        select distinct
            tenant_id,
            run_id,
            weights_version,
            {{ family }},
            candidate_key,
            'pool' as membership
        from run_pairs
        where match_score >= {{ var('fairness_qualified_min_score') }}
        union all
        select distinct
            tenant_id,
            run_id,
            weights_version,
            {{ family }},
            candidate_key,
            'top_k' as membership
        from run_pairs
        where direction = 'job_to_candidate' and match_rank <= {{ var('fairness_top_k') }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
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
        cast(group_counts.pool_count as double)
        / nullif(sum(group_counts.pool_count) over (partition by group_counts.tenant_id, group_counts.run_id, group_counts.job_family, group_counts.attribute_name), 0) as pool_share,
        cast(group_counts.top_k_count as double)
        / nullif(sum(group_counts.top_k_count) over (partition by group_counts.tenant_id, group_counts.run_id, group_counts.job_family, group_counts.attribute_name), 0) as top_k_share,
        group_counts.pool_count < {{ min_cell }} or (group_counts.top_k_count > 0 and group_counts.top_k_count < {{ min_cell }}) as is_suppressed
    from group_counts
)

select
    {{ composite_key(['tenant_id', 'run_id', 'job_family', 'attribute_name', 'attribute_value']) }}
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
    {{ var('fairness_top_k') }} as top_k,
    {{ min_cell }} as min_cell_size
from with_shares
