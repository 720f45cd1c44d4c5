-- Every posted job with its profile's occupation, job family and closure state as of the run date.
select
    postings.job_key,
    postings.tenant_id,
    postings.job_id,
    postings.employer_id,
    postings.title,
    postings.seniority,
    postings.remote,
    postings.posted_at,
    profiles.skill_uris,
    profiles.skill_labels,
    profiles.essential_skill_uris,
    profiles.occupation_code,
    profiles.occupation_label,
    coalesce(groups.job_family_code, 'unclassified') as job_family_code,
    coalesce(groups.job_family, 'Unclassified') as job_family,
    closures.closed_at,
    closures.close_reason,
    closures.hired_candidate_id,
    case when closures.closed_at is not null then 'closed' else 'open' end as job_status
from {{ ref('stg_marketplace__job_postings') }} as postings
left join {{ ref('stg_gold__job_profiles') }} as profiles
    on postings.job_key = profiles.job_key
left join {{ ref('int_occupation_groups') }} as groups
    on profiles.isco_unit_group_code = groups.isco_unit_group_code
left join {{ ref('stg_marketplace__job_closures') }} as closures
    on postings.job_key = closures.job_key
        and closures.closed_at < {{ as_of_timestamp() }}
where postings.posted_at < {{ as_of_timestamp() }}
