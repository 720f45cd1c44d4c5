-- Funnel conversion by tenant x job family x weekly cohort x stage.
with by_stage as (
    select
        tenant_id,
        job_family,
        cohort_week,
        stage,
        stage_order,
        count(*) as applications,
        sum(case when is_stage_reached then 1 else 0 end) as applications_reached,
        sum(case when is_stage_open then 1 else 0 end) as applications_open_in_stage,
        sum(case when is_exit_stage then 1 else 0 end) as applications_exited_in_stage,
        {{ median('days_in_stage') }} as median_days_in_stage,
        -- averaged as integer milli-days: a float sum's order varies between threads, an integer's doesn't
        round(avg(cast(round(days_to_next_stage * 1000) as bigint)) / 1000.0, 3) as avg_days_to_next_stage
    from {{ ref('fct_hiring_funnel') }}
    group by tenant_id, job_family, cohort_week, stage, stage_order
)

select
    {{ composite_key(['tenant_id', 'job_family', 'cohort_week', 'stage']) }} as funnel_cohort_stage_key,
    tenant_id,
    job_family,
    cohort_week,
    stage,
    stage_order,
    applications,
    applications_reached,
    applications_open_in_stage,
    applications_exited_in_stage,
    {{ safe_ratio('applications_reached', 'applications') }} as conversion_from_applied,
    {{ safe_ratio(
        'applications_reached',
        'lag(applications_reached) over (partition by tenant_id, job_family, cohort_week order by stage_order)'
    ) }} as conversion_from_previous_stage,
    median_days_in_stage,
    avg_days_to_next_stage
from by_stage
