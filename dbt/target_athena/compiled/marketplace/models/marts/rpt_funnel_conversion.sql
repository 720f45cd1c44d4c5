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
        approx_percentile(days_in_stage, 0.5) as median_days_in_stage,
        round(avg(days_to_next_stage), 3) as avg_days_to_next_stage
    from "awsdatacatalog"."marketplace_analytics_marts"."fct_hiring_funnel"
    group by tenant_id, job_family, cohort_week, stage, stage_order
)

select
    coalesce(cast(tenant_id as varchar), '~') || '|' || coalesce(cast(job_family as varchar), '~') || '|' || coalesce(cast(cohort_week as varchar), '~') || '|' || coalesce(cast(stage as varchar), '~') as funnel_cohort_stage_key,
    tenant_id,
    job_family,
    cohort_week,
    stage,
    stage_order,
    applications,
    applications_reached,
    applications_open_in_stage,
    applications_exited_in_stage,
    round(cast(applications_reached as double) / nullif(applications, 0), 4) as conversion_from_applied,
    round(cast(applications_reached as double) / nullif(lag(applications_reached) over (partition by tenant_id, job_family, cohort_week order by stage_order), 0), 4) as conversion_from_previous_stage,
    median_days_in_stage,
    avg_days_to_next_stage
from by_stage