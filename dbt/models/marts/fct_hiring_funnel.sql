-- Hiring funnel: one row per application x funnel stage (applied .. hired).
-- A stage counts as reached when it, or any later stage, was entered (status updates may skip
-- stages); days_in_stage runs from entering a stage to entering a later one, leaving the funnel,
-- or the run's as-of time for an application still sitting in that stage.
with applications as (
    select
        applications.application_key,
        applications.tenant_id,
        applications.application_id,
        applications.job_id,
        applications.application_source,
        applications.submitted_at,
        cast(date_trunc('week', applications.submitted_at) as date) as cohort_week,
        coalesce(jobs.job_family, 'Unclassified') as job_family
    from {{ ref('stg_marketplace__applications') }} as applications
    left join {{ ref('int_jobs_enriched') }} as jobs
        on applications.job_key = jobs.job_key
    where applications.submitted_at < {{ as_of_timestamp() }}
),

entries as (
    select
        entries.application_key,
        entries.stage,
        entries.entered_at,
        entries.application_exited_at,
        entries.application_exit_reason,
        stages.stage_order
    from {{ ref('int_application_stage_entries') }} as entries
    inner join {{ ref('funnel_stages') }} as stages on entries.stage = stages.stage
),

progress as (
    select
        application_key,
        max(stage_order) as furthest_stage_order,
        max(application_exited_at) as exited_at,
        max(application_exit_reason) as exit_reason
    from entries
    group by application_key
),

spine as (
    select
        applications.application_key,
        applications.tenant_id,
        applications.application_id,
        applications.job_id,
        applications.application_source,
        applications.submitted_at,
        applications.cohort_week,
        applications.job_family,
        stages.stage,
        stages.stage_order,
        entries.entered_at,
        coalesce(progress.furthest_stage_order, 1) as furthest_stage_order,
        progress.exited_at,
        progress.exit_reason
    from applications
    cross join {{ ref('funnel_stages') }} as stages
    left join entries
        on applications.application_key = entries.application_key
            and stages.stage = entries.stage
    left join progress on applications.application_key = progress.application_key
),

sequenced as (
    select
        spine.*,
        lead(spine.entered_at) over (partition by spine.application_key order by spine.stage_order) as next_stage_entered_at,
        min(spine.entered_at) over (
            partition by spine.application_key order by spine.stage_order
            rows between 1 following and unbounded following
        ) as later_stage_entered_at
    from spine
),

flagged as (
    select
        sequenced.*,
        sequenced.entered_at is not null as is_stage_entered,
        sequenced.stage_order <= sequenced.furthest_stage_order as is_stage_reached,
        sequenced.stage_order = sequenced.furthest_stage_order as is_current_stage,
        case
            when sequenced.later_stage_entered_at is not null then sequenced.later_stage_entered_at
            when sequenced.stage_order = sequenced.furthest_stage_order then sequenced.exited_at
        end as stage_left_at
    from sequenced
)

select
    {{ composite_key(['application_key', 'stage']) }} as application_stage_key,
    tenant_id,
    application_id,
    job_id,
    job_family,
    application_source,
    cohort_week,
    stage,
    stage_order,
    is_stage_entered,
    is_stage_reached,
    is_current_stage,
    is_current_stage and exited_at is not null as is_exit_stage,
    case when is_current_stage then exit_reason end as exit_reason,
    is_stage_entered and is_current_stage and exited_at is null and stage <> 'hired' as is_stage_open,
    entered_at as stage_entered_at,
    stage_left_at,
    case
        when is_stage_entered and stage <> 'hired'
            then {{ days_between('entered_at', 'coalesce(stage_left_at, ' ~ as_of_timestamp() ~ ')') }}
    end as days_in_stage,
    {{ days_between('entered_at', 'next_stage_entered_at') }} as days_to_next_stage,
    {{ days_between('submitted_at', 'entered_at') }} as days_since_application
from flagged
