-- One row per shown match with what happened next: clicked, applied within the attribution
-- window, hired. Rank and score are bucketed for the quality report.
with impressions as (
    select * from "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__match_impressions"
    where shown_at < cast(cast('2026-11-22' as date) + interval '1' day as timestamp)
),

hired_applications as (
    select application_key
    from "awsdatacatalog"."marketplace_analytics_intermediate"."int_application_stage_entries"
    where stage = 'hired'
),

attributed_applications as (
    select
        impressions.impression_key,
        min(applications.submitted_at) as applied_at,
        max(case when hired_applications.application_key is not null then 1 else 0 end) as is_hired
    from impressions
    inner join "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__applications" as applications
        on impressions.tenant_id = applications.tenant_id
        and impressions.candidate_id = applications.candidate_id
        and impressions.job_id = applications.job_id
        and applications.submitted_at >= impressions.shown_at
        and applications.submitted_at < impressions.shown_at + interval '14' day
        and applications.submitted_at < cast(cast('2026-11-22' as date) + interval '1' day as timestamp)
    left join hired_applications on applications.application_key = hired_applications.application_key
    group by impressions.impression_key
)

select
    impressions.impression_key,
    impressions.tenant_id,
    impressions.impression_id,
    impressions.match_run_id,
    coalesce(runs.weights_version, 'unknown') as weights_version,
    runs.run_date,
    impressions.surface,
    impressions.match_rank,
    case
    when impressions.match_rank is null then 'unknown'
    when impressions.match_rank <= 1 then '01'
    when impressions.match_rank <= 3 then '02-03'
    when impressions.match_rank <= 5 then '04-05'
    when impressions.match_rank <= 10 then '06-10'
    when impressions.match_rank <= 20 then '11-20'
    else '21+'
  end as rank_bucket,
    impressions.match_score,
    case
    when impressions.match_score is null then 'unknown'
    when impressions.match_score < 0.2 then '0.0-0.2'
    when impressions.match_score < 0.4 then '0.2-0.4'
    when impressions.match_score < 0.6 then '0.4-0.6'
    when impressions.match_score < 0.8 then '0.6-0.8'
    else '0.8-1.0'
  end as score_band,
    impressions.shown_at,
    clicks.clicked_at,
    clicks.impression_key is not null as is_clicked,
    attributed_applications.applied_at,
    attributed_applications.impression_key is not null as is_applied,
    coalesce(attributed_applications.is_hired, 0) = 1 as is_hired
from impressions
left join "awsdatacatalog"."marketplace_analytics_staging"."stg_marketplace__match_clicks" as clicks
    on impressions.impression_key = clicks.impression_key
    and clicks.clicked_at < cast(cast('2026-11-22' as date) + interval '1' day as timestamp)
left join "awsdatacatalog"."marketplace_analytics_staging"."stg_gold__match_runs" as runs
    on impressions.match_run_id = runs.run_id
left join attributed_applications
    on impressions.impression_key = attributed_applications.impression_key