"""Dashboard aggregation mirrors QuickSight semantics: filters, ratio of sums, sort order."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from analytics import quicksight_spec as spec
from analytics.dashboard import aggregate, build_figure, render_html

pytestmark = pytest.mark.unit


def _funnel():
    return pd.DataFrame({
        "tenant_id": ["a", "a", "b", "b", "a"],
        "stage": ["applied", "hired", "applied", "hired", "screened"],
        "stage_order": [1, 5, 1, 5, 2],
        "applications": [10, 10, 30, 30, 10],
        "applications_reached": [10, 1, 30, 9, 4],
    })


def test_ratio_is_sum_over_sum_not_mean_of_rates():
    visual = spec.Visual("v", "t", "funnel_conversion", "kpi",
                         (spec.Ratio("applications_reached", "applications", "rate"),),
                         filters=(spec.Filter("stage", "=", "hired"),))
    result = aggregate(_funnel(), visual)
    # (1 + 9) / (10 + 30) = 0.25; the mean of the two rates would be 0.2
    assert result["rate"].iloc[0] == pytest.approx(0.25)


def test_grouped_bar_sorted_by_sort_column_and_filtered():
    visual = spec.Visual("v", "t", "funnel_conversion", "bar",
                         (spec.Measure("applications_reached", "SUM", "reached"),), category="stage",
                         sort_by="stage_order", filters=(spec.Filter("tenant_id", "!=", "b"),))
    result = aggregate(_funnel(), visual)
    assert result["stage"].tolist() == ["applied", "screened", "hired"]
    assert result["reached"].tolist() == [10, 4, 1]


def test_table_visual_keeps_columns_and_top_n():
    visual = spec.Visual("v", "t", "funnel_conversion", "table", (), columns=("tenant_id", "stage"),
                         sort_by="stage", top_n=2)
    result = aggregate(_funnel(), visual)
    assert list(result.columns) == ["tenant_id", "stage"] and len(result) == 2


def test_empty_data_gives_an_annotated_figure():
    visual = spec.DASHBOARDS[0].visuals[2]
    figure = build_figure(visual, pd.DataFrame())
    assert figure.layout.annotations[0].text == "No data yet"


def test_page_is_self_contained():
    frames = {ds.id: pd.DataFrame(columns=[c.name for c in ds.columns]) for ds in spec.DATASETS}
    page, charts = render_html(frames)
    assert charts == sum(len(b.visuals) for b in spec.DASHBOARDS)
    assert re.search(r"<(script|link)[^>]+(src|href)=", page) is None  # nothing loaded from elsewhere
    assert "Plotly" in page  # the library itself is inlined
