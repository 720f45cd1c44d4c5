-- One row per shown match with what happened next: clicked, applied within the attribution
-- window, hired. Rank and score are bucketed for the quality report.
with impressions as (
    select * from {{ ref('stg_marketplace__match_impressions') }}
    where shown_at < {{ as_of_timestamp() }}
),

hired_applications as (
    select application_key
    from {{ ref('int_application_stage_entries') }}
    where stage = 'hired'
),

attributed_applications as (
    select
        impressions.impression_key,
        min(applications.submitted_at) as applied_at,
        max(case when hired_applications.application_key is not null then 1 else 0 end) as is_hired
    from impressions
    inner join {{ ref('stg_marketplace__applications') }} as applications
        on impressions.tenant_id = applications.tenant_id
            and impressions.candidate_id = applications.candidate_id
            and impressions.job_id = applications.job_id
            and impressions.shown_at <= applications.submitted_at
            and applications.submitted_at < impressions.shown_at + interval '{{ var("attribution_window_days") }}' day
            and applications.submitted_at < {{ as_of_timestamp() }}
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
    {{ rank_bucket('impressions.match_rank') }} as rank_bucket,
    impressions.match_score,
    {{ score_band('impressions.match_score') }} as score_band,
    impressions.shown_at,
    clicks.clicked_at,
    clicks.impression_key is not null as is_clicked,
    attributed_applications.applied_at,
    attributed_applications.impression_key is not null as is_applied,
    coalesce(attributed_applications.is_hired, 0) = 1 as is_hired
from impressions
left join {{ ref('stg_marketplace__match_clicks') }} as clicks
    on impressions.impression_key = clicks.impression_key
        and clicks.clicked_at < {{ as_of_timestamp() }}
left join {{ ref('stg_gold__match_runs') }} as runs
    on impressions.match_run_id = runs.run_id
left join attributed_applications
    on impressions.impression_key = attributed_applications.impression_key
