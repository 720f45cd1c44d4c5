-- Click and apply rates of shown matches by run, weights version, rank bucket and score band.
select
    {{ composite_key(['tenant_id', 'match_run_id', 'weights_version', 'rank_bucket', 'score_band']) }}
        as match_quality_key,
    tenant_id,
    match_run_id,
    weights_version,
    min(run_date) as run_date,
    rank_bucket,
    score_band,
    count(*) as impressions,
    sum(case when is_clicked then 1 else 0 end) as clicks,
    sum(case when is_applied then 1 else 0 end) as applications,
    sum(case when is_hired then 1 else 0 end) as hires,
    {{ safe_ratio('sum(case when is_clicked then 1 else 0 end)', 'count(*)') }} as click_rate,
    {{ safe_ratio('sum(case when is_applied then 1 else 0 end)', 'count(*)') }} as apply_rate,
    {{ safe_ratio('sum(case when is_applied then 1 else 0 end)', 'sum(case when is_clicked then 1 else 0 end)') }}
        as apply_rate_of_clicks
from {{ ref('fct_match_impression_outcomes') }}
group by tenant_id, match_run_id, weights_version, rank_bucket, score_band
