select
    event_id as status_change_id,
    tenant_id,
    application_id,
    candidate_id,
    job_id,
    from_status,
    to_status,
    occurred_at as changed_at,
    coalesce(cast(tenant_id as varchar), '~') || '|' || coalesce(cast(application_id as varchar), '~') as application_key
from "awsdatacatalog"."marketplace"."application_status_changed"
where tenant_id is not null and application_id is not null and to_status is not null