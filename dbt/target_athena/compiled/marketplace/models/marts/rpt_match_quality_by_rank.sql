-- Click and apply rates of shown matches by run, weights version, rank bucket and score band.
select
    coalesce(cast(tenant_id as varchar), '~') || '|' || coalesce(cast(match_run_id as varchar), '~') || '|' || coalesce(cast(weights_version as varchar), '~') || '|' || coalesce(cast(rank_bucket as varchar), '~') || '|' || coalesce(cast(score_band as varchar), '~')
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
    round(cast(sum(case when is_clicked then 1 else 0 end) as double) / nullif(count(*), 0), 4) as click_rate,
    round(cast(sum(case when is_applied then 1 else 0 end) as double) / nullif(count(*), 0), 4) as apply_rate,
    round(cast(sum(case when is_applied then 1 else 0 end) as double) / nullif(sum(case when is_clicked then 1 else 0 end), 0), 4)
        as apply_rate_of_clicks
from "awsdatacatalog"."marketplace_analytics_marts"."fct_match_impression_outcomes"
group by tenant_id, match_run_id, weights_version, rank_bucket, score_band