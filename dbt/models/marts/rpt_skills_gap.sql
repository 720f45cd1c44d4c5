-- Skills demand (jobs posted in the window) vs supply (registered candidates) per tenant, job
-- family and ESCO skill. gap_score = share of the family's jobs asking for the skill minus the
-- share of the tenant's candidates who have it; rank 1 = the most under-supplied skill.
with job_skills as (
    select
        jobs.tenant_id,
        jobs.job_family,
        jobs.job_key,
        job_skill.skill_uri,
        {{ array_element('jobs.skill_labels', 'job_skill.skill_position') }} as skill_label,
        contains(coalesce(jobs.essential_skill_uris, array[]), job_skill.skill_uri) as is_essential
    from {{ ref('int_jobs_enriched') }} as jobs
    {{ unnest_with_position('jobs.skill_uris', 'job_skill', 'skill_uri', 'skill_position') }}
    where jobs.posted_at >= {{ as_of_timestamp() }} - interval '{{ var("skills_demand_window_days") }}' day
),

candidate_skills as (
    select distinct
        candidates.tenant_id,
        candidates.job_family,
        candidates.candidate_key,
        candidate_skill.skill_uri,
        {{ array_element('candidates.skill_labels', 'candidate_skill.skill_position') }} as skill_label
    from {{ ref('int_candidates_enriched') }} as candidates
    {{ unnest_with_position('candidates.skill_uris', 'candidate_skill', 'skill_uri', 'skill_position') }}
),

family_jobs as (
    select
        tenant_id,
        job_family,
        count(distinct job_key) as jobs_in_family
    from job_skills
    group by tenant_id, job_family
    union all
    select
        tenant_id,
        'All job families' as job_family,
        count(distinct job_key) as jobs_in_family
    from job_skills
    group by tenant_id
),

tenant_candidates as (
    select
        tenant_id,
        count(*) as candidates_in_tenant
    from {{ ref('int_candidates_enriched') }}
    group by tenant_id
),

demand as (
    select
        tenant_id,
        job_family,
        skill_uri,
        max(skill_label) as skill_label,
        count(distinct job_key) as demand_jobs,
        count(distinct case when is_essential then job_key end) as demand_jobs_essential
    from job_skills
    group by tenant_id, job_family, skill_uri
    union all
    select
        tenant_id,
        'All job families' as job_family,
        skill_uri,
        max(skill_label) as skill_label,
        count(distinct job_key) as demand_jobs,
        count(distinct case when is_essential then job_key end) as demand_jobs_essential
    from job_skills
    group by tenant_id, skill_uri
),

supply as (
    select
        tenant_id,
        skill_uri,
        max(skill_label) as skill_label,
        count(distinct candidate_key) as supply_candidates
    from candidate_skills
    group by tenant_id, skill_uri
),

supply_in_family as (
    select
        tenant_id,
        job_family,
        skill_uri,
        count(distinct candidate_key) as supply_candidates_in_family
    from candidate_skills
    group by tenant_id, job_family, skill_uri
),

scored as (
    select
        demand.tenant_id,
        demand.job_family,
        demand.skill_uri,
        coalesce(demand.skill_label, supply.skill_label) as skill_label,
        demand.demand_jobs,
        demand.demand_jobs_essential,
        family_jobs.jobs_in_family,
        coalesce(supply.supply_candidates, 0) as supply_candidates,
        case
            when demand.job_family = 'All job families' then coalesce(supply.supply_candidates, 0)
            else coalesce(supply_in_family.supply_candidates_in_family, 0)
        end as supply_candidates_in_family,
        tenant_candidates.candidates_in_tenant,
        {{ safe_ratio('demand.demand_jobs', 'family_jobs.jobs_in_family') }} as demand_share,
        coalesce({{ safe_ratio('supply.supply_candidates', 'tenant_candidates.candidates_in_tenant') }}, 0) as supply_share
    from demand
    inner join family_jobs
        on demand.tenant_id = family_jobs.tenant_id and demand.job_family = family_jobs.job_family
    left join supply
        on demand.tenant_id = supply.tenant_id and demand.skill_uri = supply.skill_uri
    left join supply_in_family
        on demand.tenant_id = supply_in_family.tenant_id
            and demand.job_family = supply_in_family.job_family
            and demand.skill_uri = supply_in_family.skill_uri
    left join tenant_candidates on demand.tenant_id = tenant_candidates.tenant_id
)

select
    {{ composite_key(['tenant_id', 'job_family', 'skill_uri']) }} as skill_gap_key,
    tenant_id,
    job_family,
    skill_uri,
    skill_label,
    demand_jobs,
    demand_jobs_essential,
    jobs_in_family,
    supply_candidates,
    supply_candidates_in_family,
    candidates_in_tenant,
    demand_share,
    supply_share,
    round(demand_share - supply_share, 4) as gap_score,
    {{ safe_ratio('demand_jobs', 'supply_candidates', 3) }} as jobs_per_candidate_with_skill,
    rank() over (
        partition by tenant_id, job_family order by demand_share - supply_share desc, demand_jobs desc
    ) as gap_rank
from scored
