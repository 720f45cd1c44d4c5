-- Latest profile per candidate (gold may hold several profile versions).
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
            partition by tenant_id, candidate_id order by profile_version desc, run_date desc
        ) as version_rank
    from {{ source('gold', 'candidate_profiles') }}
    where tenant_id is not null and candidate_id is not null
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
