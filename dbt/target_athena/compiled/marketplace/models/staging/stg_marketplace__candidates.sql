-- One row per candidate: the first registration wins for registered_at, the latest for attributes.
-- PII (display_name, email) is deliberately never selected; self-reported attributes only with opt-in.
with registrations as (
    select
        tenant_id,
        candidate_id,
        occurred_at,
        location_city,
        location_country,
        remote_preference,
        desired_salary_min,
        coalesce(self_reported_opt_in, false) as is_self_report_opted_in,
        self_reported_gender,
        self_reported_age_band,
        min(occurred_at) over (partition by tenant_id, candidate_id) as registered_at,
        row_number() over (
            partition by tenant_id, candidate_id order by occurred_at desc, event_id desc
        ) as recency_rank
    from "awsdatacatalog"."marketplace"."candidate_registered"
    where tenant_id is not null and candidate_id is not null
)

select
    tenant_id,
    candidate_id,
    registered_at,
    location_city,
    location_country,
    remote_preference,
    desired_salary_min,
    is_self_report_opted_in,
    case when is_self_report_opted_in then self_reported_gender end as self_reported_gender,
    case when is_self_report_opted_in then self_reported_age_band end as self_reported_age_band,
    coalesce(cast(tenant_id as varchar), '~') || '|' || coalesce(cast(candidate_id as varchar), '~') as candidate_key
from registrations
where recency_rank = 1