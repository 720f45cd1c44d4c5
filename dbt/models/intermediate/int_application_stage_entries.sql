-- When each application first entered each funnel stage, and how it left the funnel (if it did).
-- Submission counts as entering "applied"; status changes add the later stages.
-- Status events come from other services and arrive late and out of order, so the entries are made
-- consistent before anyone measures an interval from them (every days-in-stage is then >= 0):
--   * a status change stamped before its application's submission (clock skew between services)
--     counts from the submission;
--   * the first terminal status (rejected, withdrawn, hired) ends the application: stage entries and
--     exits stamped after it are ignored (a rejection after a hire, a stray "interviewed" after a
--     rejection);
--   * stages only move forward: a stage first entered after a later stage was already entered (a
--     backfilled or corrected status) is treated as skipped, not as entered.
with submissions as (
    select
        application_key,
        submitted_at
    from {{ ref('stg_marketplace__applications') }}
),

status_changes as (
    select
        changes.application_key,
        changes.to_status,
        changes.status_change_id,
        -- never before the submission (coalesce: Athena's greatest() is null when any argument is)
        greatest(changes.changed_at, coalesce(submissions.submitted_at, changes.changed_at)) as changed_at
    from {{ ref('stg_marketplace__application_status_changes') }} as changes
    left join submissions on changes.application_key = submissions.application_key
),

ends as (
    -- The first terminal status; a hire ends the funnel without being an exit from it.
    select
        application_key,
        changed_at as ended_at,
        to_status as end_status
    from (
        select
            application_key,
            changed_at,
            to_status,
            row_number() over (partition by application_key order by changed_at, status_change_id) as end_order
        from status_changes
        where to_status in ('rejected', 'withdrawn', 'hired')
            and changed_at < {{ as_of_timestamp() }}
    ) as ordered_ends
    where end_order = 1
),

stage_events as (
    select
        application_key,
        'applied' as stage,
        submitted_at as entered_at
    from submissions
    union all
    select
        application_key,
        to_status as stage,
        changed_at as entered_at
    from status_changes
    where to_status in (select funnel_stages.stage from {{ ref('funnel_stages') }} as funnel_stages)
),

first_entries as (
    select
        stage_events.application_key,
        stage_events.stage,
        stages.stage_order,
        min(stage_events.entered_at) as entered_at
    from stage_events
    inner join {{ ref('funnel_stages') }} as stages on stage_events.stage = stages.stage
    left join ends on stage_events.application_key = ends.application_key
    where stage_events.entered_at < {{ as_of_timestamp() }}
        and (ends.ended_at is null or stage_events.entered_at <= ends.ended_at)
    group by stage_events.application_key, stage_events.stage, stages.stage_order
),

forward_only as (
    select
        application_key,
        stage,
        entered_at,
        min(entered_at) over (
            partition by application_key order by stage_order desc
            rows between unbounded preceding and 1 preceding
        ) as later_stage_first_entered_at
    from first_entries
)

select
    forward_only.application_key,
    forward_only.stage,
    forward_only.entered_at,
    case when ends.end_status in ('rejected', 'withdrawn') then ends.ended_at end as application_exited_at,
    case when ends.end_status in ('rejected', 'withdrawn') then ends.end_status end as application_exit_reason
from forward_only
left join ends on forward_only.application_key = ends.application_key
where forward_only.later_stage_first_entered_at is null
    or forward_only.entered_at <= forward_only.later_stage_first_entered_at
