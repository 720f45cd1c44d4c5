-- When each application first entered each funnel stage, and how it left the funnel (if it did).
-- Submission counts as entering "applied"; status changes add the later stages.
with stage_events as (
    select
        application_key,
        'applied' as stage,
        submitted_at as entered_at
    from {{ ref('stg_marketplace__applications') }}
    union all
    select
        application_key,
        to_status as stage,
        changed_at as entered_at
    from {{ ref('stg_marketplace__application_status_changes') }}
    where to_status in (select funnel_stages.stage from {{ ref('funnel_stages') }} as funnel_stages)
),

exits as (
    -- The first rejection/withdrawal ends the application; later status noise is ignored.
    select
        application_key,
        changed_at as exited_at,
        to_status as exit_reason
    from (
        select
            application_key,
            changed_at,
            to_status,
            row_number() over (partition by application_key order by changed_at, status_change_id) as exit_order
        from {{ ref('stg_marketplace__application_status_changes') }}
        where to_status in ('rejected', 'withdrawn')
            and changed_at < {{ as_of_timestamp() }}
    ) as ordered_exits
    where exit_order = 1
)

select
    stage_events.application_key,
    stage_events.stage,
    min(stage_events.entered_at) as entered_at,
    max(exits.exited_at) as application_exited_at,
    max(exits.exit_reason) as application_exit_reason
from stage_events
left join exits on stage_events.application_key = exits.application_key
where stage_events.entered_at < {{ as_of_timestamp() }}
group by stage_events.application_key, stage_events.stage
