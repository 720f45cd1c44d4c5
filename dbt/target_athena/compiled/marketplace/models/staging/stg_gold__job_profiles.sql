-- Latest profile per job.
with profiles as (
    select
        tenant_id,
        job_id,
        skills as skill_uris,
        skill_labels,
        essential_skills as essential_skill_uris,
        optional_skills as optional_skill_uris,
        occupation_code,
        occupation_label,
        split_part(occupation_code, '.', 1) as isco_unit_group_code,
        seniority,
        job_status,
        profile_version,
        row_number() over (partition by tenant_id, job_id order by profile_version desc, run_date desc) as version_rank
    from "awsdatacatalog"."marketplace"."job_profiles"
    where tenant_id is not null and job_id is not null
)

select
    tenant_id,
    job_id,
    skill_uris,
    skill_labels,
    essential_skill_uris,
    optional_skill_uris,
    occupation_code,
    occupation_label,
    isco_unit_group_code,
    seniority,
    job_status,
    profile_version,
    coalesce(cast(tenant_id as varchar), '~') || '|' || coalesce(cast(job_id as varchar), '~') as job_key
from profiles
where version_rank = 1