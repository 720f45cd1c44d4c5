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
        row_number() over (
            partition by tenant_id, job_id order by run_date desc, profile_version desc
        ) as version_rank
    from {{ source('gold', 'job_profiles') }}
    -- profiles are daily snapshots (partition run_date): use the newest one as of the run date
    where tenant_id is not null and job_id is not null
        and cast(run_date as date) <= {{ as_of_date() }}
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
    {{ composite_key(['tenant_id', 'job_id']) }} as job_key
from profiles
where version_rank = 1
