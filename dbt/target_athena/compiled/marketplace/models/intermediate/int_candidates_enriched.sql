-- Registered candidates with their profile's skills and occupation group. No PII.
select
    candidates.candidate_key,
    candidates.tenant_id,
    candidates.candidate_id,
    candidates.registered_at,
    candidates.is_self_report_opted_in,
    candidates.self_reported_gender,
    candidates.self_reported_age_band,
    profiles.skill_uris,
    profiles.skill_labels,
    profiles.occupation_code,
    profiles.candidate_key is not null as has_profile,
    coalesce(groups.job_family_code, 'unclassified') as job_family_code,
    coalesce(groups.job_family, 'Unclassified') as job_family
from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__candidates" as candidates
left join "awsdatacatalog"."marketplace_analytics_staging"."stg_gold__candidate_profiles" as profiles
    on candidates.candidate_key = profiles.candidate_key
left join "awsdatacatalog"."marketplace_analytics_intermediate"."int_occupation_groups" as groups
    on profiles.isco_unit_group_code = groups.isco_unit_group_code
where candidates.registered_at < cast(cast('2026-11-22' as date) + interval '1' day as timestamp)