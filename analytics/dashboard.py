"""Pipeline stage ``dashboard``: render the marts as one self-contained interactive HTML report.

The local stand-in for QuickSight: every visual of ``analytics.quicksight_spec.DASHBOARDS`` is
drawn with plotly from the same dataset SQL QuickSight runs in Athena, so the two stay mirrored.
plotly.js is inlined once, so the file opens offline (no CDN, no network).
CLI: ``python -m analytics.dashboard`` prints the path of the written file.
"""

from __future__ import annotations

import argparse
import html
import logging
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from analytics import quicksight_spec as spec
from common.config import get_settings
from common.lake_client import LakeClient, get_lake_client

log = logging.getLogger(__name__)

PALETTE = ["#2563eb", "#f97316", "#16a34a", "#dc2626", "#9333ea", "#0891b2", "#ca8a04", "#db2777"]
OPERATORS = {
    "=": lambda s, v: s == v,
    "!=": lambda s, v: s != v,
    "<=": lambda s, v: s <= v,
    ">=": lambda s, v: s >= v,
}


def load_datasets(client: LakeClient, schema: str = spec.LOCAL_MARTS_SCHEMA) -> dict[str, pd.DataFrame]:
    """Run every dataset's SQL against the warehouse."""
    frames = {}
    for ds in spec.DATASETS:
        frames[ds.id] = client.query(ds.sql(schema))
        log.info("dataset %s: %d rows", ds.id, len(frames[ds.id]))
    return frames


def aggregate(frame: pd.DataFrame, visual: spec.Visual) -> pd.DataFrame:
    """Apply the visual's filters and aggregate its measures by category and colour, like QuickSight."""
    for rule in visual.filters:
        frame = frame[OPERATORS[rule.operator](frame[rule.column], rule.value)]
    if visual.kind == "table":
        rows = frame[list(visual.columns)]
        if visual.sort_by:
            rows = rows.sort_values([visual.sort_by, *visual.columns[:2]], kind="stable")
        return rows.head(visual.top_n or len(rows)).reset_index(drop=True)
    keys = [key for key in (visual.category, visual.color) if key]
    grouped = frame.groupby(keys, dropna=False, sort=False) if keys else None
    result = pd.DataFrame(index=grouped.size().index if keys else [0])
    for measure in visual.measures:
        if isinstance(measure, spec.Ratio):
            num = _sum(frame, grouped, measure.numerator)
            den = _sum(frame, grouped, measure.denominator)
            result[measure.title] = (num / den.where(den != 0)).round(4)
        else:
            how = {"SUM": "sum", "AVG": "mean", "MIN": "min", "MAX": "max", "COUNT": "count"}[measure.aggregation]
            if grouped is None:
                result[measure.title] = [getattr(pd.to_numeric(frame[measure.column], errors="coerce"), how)()]
            else:
                result[measure.title] = getattr(grouped[measure.column], how)()
    if visual.sort_by and keys:
        order = frame.groupby(keys, dropna=False, sort=False)[visual.sort_by].min()
        result = result.assign(_order=order).sort_values("_order", kind="stable").drop(columns="_order")
    return result.reset_index() if keys else result


def _sum(frame, grouped, column):
    if grouped is None:
        return pd.Series([pd.to_numeric(frame[column], errors="coerce").sum()])
    return grouped[column].sum().astype(float)


def build_figure(visual: spec.Visual, data: pd.DataFrame):
    """A plotly figure for one visual (an annotated empty figure when there is no data)."""
    import plotly.graph_objects as go

    figure = go.Figure()
    if data.empty:
        figure.add_annotation(text="No data yet", showarrow=False, font={"size": 16, "color": "#64748b"})
        figure.update_xaxes(visible=False)
        figure.update_yaxes(visible=False)
    elif visual.kind == "kpi":
        value = data[visual.measures[0].title].iloc[0]
        figure.add_trace(go.Indicator(mode="number", value=0 if pd.isna(value) else float(value),
                                      number={"valueformat": ",.0f", "font": {"size": 44}},
                                      domain={"x": [0, 1], "y": [0, 0.8]}))
    elif visual.kind == "table":
        figure.add_trace(go.Table(
            header={"values": [f"<b>{c}</b>" for c in data.columns], "fill_color": "#e2e8f0", "align": "left"},
            cells={"values": [data[c].map(_cell_text).tolist() for c in data.columns], "align": "left"},
        ))
    else:
        _add_series(figure, visual, data)
    figure.update_layout(
        title={"text": visual.title, "font": {"size": 15}},
        height=170 if visual.kind == "kpi" else 400,
        autosize=True,
        margin={"l": 40, "r": 20, "t": 50, "b": 40},
        template="plotly_white",
        colorway=PALETTE,
        legend={"orientation": "h", "y": -0.2},
        barmode="group",
    )
    return figure


def _add_series(figure, visual: spec.Visual, data: pd.DataFrame) -> None:
    import plotly.graph_objects as go

    groups = [(None, data)] if not visual.color else list(data.groupby(visual.color, sort=True, dropna=False))
    for colour_value, rows in groups:
        for measure in visual.measures:
            name = measure.title if colour_value is None else f"{visual.color}={colour_value}"
            if visual.color and len(visual.measures) > 1:
                name = f"{name} · {measure.title}"
            x = _category_labels(rows[visual.category]) if visual.category else None
            y = rows[measure.title]
            if visual.kind == "line":
                figure.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=name))
            elif visual.horizontal:
                figure.add_trace(go.Bar(x=y, y=x, orientation="h", name=name))
            else:
                figure.add_trace(go.Bar(x=x, y=y, name=name))
    # Categories such as rank buckets ("01", "02-03") must not be read as dates or numbers.
    category_axis = figure.update_yaxes if visual.horizontal else figure.update_xaxes
    category_axis(type="category", automargin=True)  # also dates: one cohort must not zoom to milliseconds
    if visual.horizontal:
        figure.update_yaxes(autorange="reversed")


def _category_labels(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.strftime("%Y-%m-%d")
    if values.map(lambda v: hasattr(v, "isoformat")).all():  # python dates from duckdb DATE columns
        return values.map(lambda v: v.isoformat()[:10])
    return values.astype(str)


def _cell_text(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


PAGE_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f8fafc;color:#0f172a}
header{background:#0f172a;color:#fff;padding:16px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#cbd5e1;font-size:13px}nav a{color:#93c5fd;margin-right:18px;font-size:14px}
section{padding:8px 28px 24px}section h2{margin:18px 0 2px}section p.desc{margin:0 0 10px;color:#475569}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(520px,100%),1fr));gap:14px}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:14px;margin-bottom:14px}
.card{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:4px;min-width:0;overflow:hidden}
footer{padding:16px 28px;color:#64748b;font-size:12px}
"""


def render_html(frames: dict[str, pd.DataFrame], subtitle: str = "") -> tuple[str, int]:
    """The full HTML page; returns it with the number of charts drawn."""
    from plotly.offline import get_plotlyjs

    sections, charts = [], 0
    for board in spec.DASHBOARDS:
        kpis, visuals = [], []
        for visual in board.visuals:
            data = aggregate(frames[visual.dataset], visual)
            figure = build_figure(visual, data)
            div = figure.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{visual.id}", default_width="100%",
                                 config={"displaylogo": False, "responsive": True,
                                         "displayModeBar": visual.kind not in ("kpi", "table")})
            card = f'<div class="card" data-visual="{visual.id}">{div}</div>'
            (kpis if visual.kind == "kpi" else visuals).append(card)
            charts += 1
        sections.append(
            f'<section id="{board.id}"><h2>{html.escape(board.title)}</h2>'
            f'<p class="desc">{html.escape(board.description)}</p>'
            f'<div class="kpis">{"".join(kpis)}</div><div class="grid">{"".join(visuals)}</div></section>'
        )
    nav = "".join(f'<a href="#{b.id}">{html.escape(b.title)}</a>' for b in spec.DASHBOARDS)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Talent marketplace analytics</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{PAGE_STYLE}</style>
<script type="text/javascript">{get_plotlyjs()}</script></head>
<body><header><h1>Talent marketplace analytics</h1>
<p>Local stand-in for the QuickSight dashboards (same datasets and visuals). {html.escape(subtitle)}</p>
<nav>{nav}</nav></header>
{"".join(sections)}
<footer>Generated {generated} from the dbt marts. No personal data: marts hold pseudonymous ids and
aggregates only; fairness cells below the minimum size are suppressed. ESCO classification:
European Commission (CC BY 4.0).</footer>
<script>window.addEventListener("load", () => window.dispatchEvent(new Event("resize")));</script>
</body></html>"""
    return page, charts


def render_dashboard(output_path: Path | None = None, client: LakeClient | None = None) -> Path:
    """Render every dashboard into one self-contained HTML file; returns its path
    (default ``settings.local_state_dir/dashboard/index.html``)."""
    settings = get_settings()
    output = Path(output_path or settings.local_state_dir / "dashboard" / "index.html")
    frames = load_datasets(client or get_lake_client(settings))
    rows = sum(len(frame) for frame in frames.values())
    page, charts = render_html(frames, subtitle=f"{len(frames)} datasets, {rows:,} mart rows.")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page, encoding="utf-8")
    log.info("dashboard with %d charts written to %s (%.1f MB)", charts, output, output.stat().st_size / 1e6)
    return output


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Render the local analytics dashboard from the marts.")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    path = render_dashboard(args.output)
    print(f"dashboard: {path}")


if __name__ == "__main__":
    main()
