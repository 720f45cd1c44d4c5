select
    event_id as status_change_id,
    tenant_id,
    application_id,
    candidate_id,
    job_id,
    from_status,
    to_status,
    occurred_at as changed_at,
    {{ composite_key(['tenant_id', 'application_id']) }} as application_key
from {{ source('silver', 'application_status_changed') }}
where tenant_id is not null and application_id is not null and to_status is not null
