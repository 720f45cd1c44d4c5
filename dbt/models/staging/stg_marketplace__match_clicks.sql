-- First click per impression.
with clicks as (
    select
        tenant_id,
        impression_id,
        occurred_at as clicked_at,
        row_number() over (partition by tenant_id, impression_id order by occurred_at, event_id) as click_order
    from {{ source('silver', 'match_clicked') }}
    where tenant_id is not null and impression_id is not null
)

select
    tenant_id,
    impression_id,
    clicked_at,
    {{ composite_key(['tenant_id', 'impression_id']) }} as impression_key
from clicks
where click_order = 1
