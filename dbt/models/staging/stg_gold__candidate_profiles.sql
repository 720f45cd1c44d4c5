-- Latest profile per candidate.
with profiles as (
    select
        tenant_id,
        candidate_id,
        skills as skill_uris,
        skill_labels,
        occupation_code,
        occupation_label,
        split_part(occupation_code, '.', 1) as isco_unit_group_code,
        years_experience,
        seniority,
        education_level,
        profile_version,
        row_number() over (
            partition by tenant_id, candidate_id order by run_date desc, profile_version desc
        ) as version_rank
    from {{ source('gold', 'candidate_profiles') }}
    -- profiles are daily snapshots (partition run_date): use the newest one as of the run date
    where tenant_id is not null and candidate_id is not null
        and cast(run_date as date) <= {{ as_of_date() }}
)

select
    tenant_id,
    candidate_id,
    skill_uris,
    skill_labels,
    occupation_code,
    occupation_label,
    isco_unit_group_code,
    years_experience,
    seniority,
    education_level,
    profile_version,
    {{ composite_key(['tenant_id', 'candidate_id']) }} as candidate_key
from profiles
where version_rank = 1
