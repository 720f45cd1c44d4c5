"""The dashboards as data: QuickSight datasets (Athena custom SQL on the marts) and visuals.

Pure Python, standard library only, so infra/ (CDK) can import it to create the QuickSight data
source, datasets and dashboards, and analytics/dashboard.py renders the *same* visuals locally
with plotly. Change a visual here and both follow.

Conventions:
- Dataset SQL uses ``{schema}`` for the marts schema (Athena: ``<DBT_ATHENA_SCHEMA>_marts``,
  default ``marketplace_analytics_marts``; local duckdb: ``main_marts``).
- A measure is ``Measure(column, aggregation)`` or a ``Ratio`` (sum(numerator) / sum(denominator),
  a QuickSight calculated field), so rates are never averaged across groups.
- Filters are ``Filter(column, operator, value)`` with operator one of ``=``, ``!=``, ``<=``, ``>=``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

ATHENA_MARTS_SCHEMA = "marketplace_analytics_marts"
LOCAL_MARTS_SCHEMA = "main_marts"
AGGREGATIONS = ("SUM", "AVG", "MIN", "MAX", "COUNT")
VISUAL_KINDS = ("kpi", "bar", "line", "table")
FILTER_OPERATORS = ("=", "!=", "<=", ">=")
QUICKSIGHT_TYPES = ("STRING", "INTEGER", "DECIMAL", "DATETIME", "BOOLEAN")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # one of QUICKSIGHT_TYPES


@dataclass(frozen=True)
class Dataset:
    id: str
    name: str
    mart: str
    columns: tuple[Column, ...]

    def sql(self, schema: str = ATHENA_MARTS_SCHEMA) -> str:
        names = ", ".join(c.name for c in self.columns)
        return f"select {names} from {schema}.{self.mart}"


@dataclass(frozen=True)
class Measure:
    column: str
    aggregation: str = "SUM"
    label: str | None = None

    @property
    def title(self) -> str:
        return self.label or f"{self.aggregation.lower()} of {self.column}"


@dataclass(frozen=True)
class Ratio:
    numerator: str
    denominator: str
    label: str

    @property
    def title(self) -> str:
        return self.label

    @property
    def quicksight_expression(self) -> str:
        return f"sum({{{self.numerator}}}) / sum({{{self.denominator}}})"


@dataclass(frozen=True)
class Filter:
    column: str
    operator: str
    value: str | int | float | bool


@dataclass(frozen=True)
class Visual:
    id: str
    title: str
    dataset: str
    kind: str
    measures: tuple[Measure | Ratio, ...]
    category: str | None = None  # x axis (bar/line) or first table column
    color: str | None = None  # series split
    filters: tuple[Filter, ...] = ()
    sort_by: str | None = None  # a column to order categories by (ascending)
    horizontal: bool = False
    columns: tuple[str, ...] = ()  # table visuals: the columns to show
    top_n: int | None = None  # table visuals: rows shown
    description: str = ""


@dataclass(frozen=True)
class Dashboard:
    id: str
    title: str
    description: str
    exposure: str  # the dbt exposure documenting this dashboard
    visuals: tuple[Visual, ...] = field(default_factory=tuple)


S, I, D, T, B = "STRING", "INTEGER", "DECIMAL", "DATETIME", "BOOLEAN"  # noqa: E741


def _cols(*pairs: tuple[str, str]) -> tuple[Column, ...]:
    return tuple(Column(name, kind) for name, kind in pairs)


DATASETS: tuple[Dataset, ...] = (
    Dataset("funnel_conversion", "Hiring funnel conversion", "rpt_funnel_conversion", _cols(
        ("tenant_id", S), ("job_family", S), ("cohort_week", T), ("stage", S), ("stage_order", I),
        ("applications", I), ("applications_reached", I), ("applications_open_in_stage", I),
        ("applications_exited_in_stage", I), ("conversion_from_applied", D), ("conversion_from_previous_stage", D),
        ("median_days_in_stage", D), ("avg_days_to_next_stage", D))),
    Dataset("job_fill_times", "Time to fill per job", "fct_job_fill_times", _cols(
        ("tenant_id", S), ("job_id", S), ("job_family", S), ("posted_date", T), ("job_status", S),
        ("applications_count", I), ("is_filled", B), ("days_to_first_application", D), ("days_to_fill", D),
        ("days_open", D), ("applicant_balance", S))),
    Dataset("marketplace_balance", "Marketplace balance", "rpt_marketplace_balance", _cols(
        ("tenant_id", S), ("job_family", S), ("jobs", I), ("open_jobs", I), ("applications", I),
        ("applications_per_job", D), ("median_applications_per_job", D), ("jobs_with_zero_applicants", I),
        ("jobs_oversubscribed", I), ("candidates", I), ("candidates_without_match", I),
        ("candidates_without_application", I), ("share_candidates_without_match", D))),
    Dataset("skills_gap", "Skills demand vs supply", "rpt_skills_gap", _cols(
        ("tenant_id", S), ("job_family", S), ("skill_uri", S), ("skill_label", S), ("demand_jobs", I),
        ("supply_candidates", I), ("demand_share", D), ("supply_share", D), ("gap_score", D), ("gap_rank", I))),
    Dataset("match_quality", "Match quality by rank and score", "rpt_match_quality_by_rank", _cols(
        ("tenant_id", S), ("match_run_id", S), ("weights_version", S), ("run_date", T), ("rank_bucket", S),
        ("score_band", S), ("impressions", I), ("clicks", I), ("applications", I), ("hires", I))),
    Dataset("match_precision", "Precision@k of published matches", "rpt_match_precision_at_k", _cols(
        ("tenant_id", S), ("run_id", S), ("run_date", T), ("weights_version", S), ("k", I),
        ("candidates_in_run", I), ("candidates_evaluated", I), ("precision_at_k_applied", D),
        ("recall_at_k_applied", D), ("hit_rate_at_k_applied", D), ("precision_at_k_hired", D))),
    Dataset("fairness", "Top-k representation audit", "rpt_fairness_topk_representation", _cols(
        ("tenant_id", S), ("run_id", S), ("weights_version", S), ("job_family", S), ("attribute_name", S),
        ("attribute_value", S), ("is_suppressed", B), ("qualified_pool_count", I), ("top_k_count", I),
        ("qualified_pool_share", D), ("top_k_share", D), ("representation_ratio", D))),
)

ALL_FAMILIES = Filter("job_family", "=", "All job families")
NOT_ALL_FAMILIES = Filter("job_family", "!=", "All job families")

DASHBOARDS: tuple[Dashboard, ...] = (
    Dashboard(
        "hiring-funnel", "Hiring funnel", "Stage conversion, time in stage and time to fill.", "hiring_funnel_dashboard",
        (
            Visual("funnel-applications", "Applications", "funnel_conversion", "kpi",
                   (Measure("applications", "SUM", "applications"),), filters=(Filter("stage", "=", "applied"),)),
            Visual("funnel-hires", "Hires", "funnel_conversion", "kpi",
                   (Measure("applications_reached", "SUM", "hires"),), filters=(Filter("stage", "=", "hired"),)),
            Visual("funnel-by-stage", "Share of applications reaching each stage", "funnel_conversion", "bar",
                   (Ratio("applications_reached", "applications", "reached / applied"),),
                   category="stage", color="tenant_id", sort_by="stage_order"),
            Visual("funnel-cohorts", "Applied → hired by weekly cohort", "funnel_conversion", "line",
                   (Ratio("applications_reached", "applications", "hired / applied"),),
                   category="cohort_week", color="tenant_id", filters=(Filter("stage", "=", "hired"),),
                   sort_by="cohort_week"),
            Visual("funnel-days-in-stage", "Median days in stage", "funnel_conversion", "bar",
                   (Measure("median_days_in_stage", "AVG", "days"),), category="stage", color="tenant_id",
                   sort_by="stage_order", filters=(Filter("stage", "!=", "hired"),)),
            Visual("time-to-fill", "Days to first application and to fill, by job family", "job_fill_times", "bar",
                   (Measure("days_to_first_application", "AVG", "days to first application"),
                    Measure("days_to_fill", "AVG", "days to fill")), category="job_family", horizontal=True),
        ),
    ),
    Dashboard(
        "marketplace-health", "Marketplace health", "Demand vs supply: applicants per job and skill gaps.",
        "marketplace_health_dashboard",
        (
            Visual("balance-open-jobs", "Open jobs", "marketplace_balance", "kpi",
                   (Measure("open_jobs", "SUM", "open jobs"),), filters=(ALL_FAMILIES,)),
            Visual("balance-no-match", "Candidates without a match (latest run)", "marketplace_balance", "kpi",
                   (Measure("candidates_without_match", "SUM", "candidates"),), filters=(ALL_FAMILIES,)),
            Visual("balance-apps-per-job", "Applications per job by job family", "marketplace_balance", "bar",
                   (Ratio("applications", "jobs", "applications per job"),), category="job_family",
                   color="tenant_id", filters=(NOT_ALL_FAMILIES,), horizontal=True),
            Visual("balance-job-extremes", "Jobs with zero or too many applicants", "marketplace_balance", "bar",
                   (Measure("jobs_with_zero_applicants", "SUM", "zero applicants"),
                    Measure("jobs_oversubscribed", "SUM", "oversubscribed")), category="tenant_id",
                   filters=(ALL_FAMILIES,)),
            Visual("skills-top-gaps", "Most under-supplied skills (all job families)", "skills_gap", "bar",
                   (Measure("gap_score", "MAX", "gap score"),), category="skill_label", color="tenant_id",
                   filters=(ALL_FAMILIES, Filter("gap_rank", "<=", 10)), horizontal=True),
            Visual("skills-gap-table", "Skill gaps by job family", "skills_gap", "table", (),
                   columns=("tenant_id", "job_family", "gap_rank", "skill_label", "demand_jobs", "supply_candidates",
                            "gap_score"),
                   filters=(NOT_ALL_FAMILIES, Filter("gap_rank", "<=", 3)), sort_by="gap_rank", top_n=40),
        ),
    ),
    Dashboard(
        "match-quality", "Match quality & fairness",
        "Click/apply rates by rank and score, precision@k per run, top-k representation (opt-in, suppressed).",
        "match_quality_dashboard",
        (
            Visual("quality-ctr-by-rank", "Click rate by rank", "match_quality", "bar",
                   (Ratio("clicks", "impressions", "click rate"),), category="rank_bucket", color="match_run_id",
                   sort_by="rank_bucket"),
            Visual("quality-apply-by-score", "Apply rate by score band", "match_quality", "bar",
                   (Ratio("applications", "impressions", "apply rate"),), category="score_band",
                   color="weights_version", sort_by="score_band"),
            Visual("quality-precision", "Precision@k against later applications, per run", "match_precision", "line",
                   (Measure("precision_at_k_applied", "AVG", "precision@k"),), category="run_date", color="k",
                   sort_by="run_date"),
            Visual("fairness-gender", "Top-k representation ratio by gender (1 = proportional)", "fairness", "bar",
                   (Measure("representation_ratio", "AVG", "top-k share / pool share"),), category="attribute_value",
                   color="run_id", filters=(ALL_FAMILIES, Filter("attribute_name", "=", "gender"),
                                            Filter("is_suppressed", "=", False))),
            Visual("fairness-table", "Representation cells (suppressed cells show no numbers)", "fairness", "table", (),
                   columns=("tenant_id", "run_id", "attribute_name", "attribute_value", "is_suppressed",
                            "qualified_pool_share", "top_k_share", "representation_ratio"),
                   filters=(ALL_FAMILIES,), sort_by="run_id", top_n=60),
        ),
    ),
)


def dataset(dataset_id: str) -> Dataset:
    for candidate in DATASETS:
        if candidate.id == dataset_id:
            return candidate
    raise KeyError(f"no dataset {dataset_id!r}")


def validate() -> list[str]:
    """Problems in the spec (empty = consistent): unknown datasets, columns, kinds, operators."""
    problems = []
    for ds in DATASETS:
        problems += [f"{ds.id}.{c.name}: type {c.type}" for c in ds.columns if c.type not in QUICKSIGHT_TYPES]
    for board in DASHBOARDS:
        for visual in board.visuals:
            where = f"{board.id}/{visual.id}"
            try:
                columns = {c.name for c in dataset(visual.dataset).columns}
            except KeyError as exc:
                problems.append(f"{where}: {exc}")
                continue
            if visual.kind not in VISUAL_KINDS:
                problems.append(f"{where}: kind {visual.kind}")
            used = [visual.category, visual.color, visual.sort_by, *visual.columns, *(f.column for f in visual.filters)]
            for measure in visual.measures:
                used += [measure.numerator, measure.denominator] if isinstance(measure, Ratio) else [measure.column]
                if isinstance(measure, Measure) and measure.aggregation not in AGGREGATIONS:
                    problems.append(f"{where}: aggregation {measure.aggregation}")
            problems += [f"{where}: unknown column {name}" for name in used if name and name not in columns]
            problems += [f"{where}: operator {f.operator}" for f in visual.filters if f.operator not in FILTER_OPERATORS]
            if visual.kind == "table" and not visual.columns:
                problems.append(f"{where}: table without columns")
            if visual.kind != "table" and not visual.measures:
                problems.append(f"{where}: no measures")
    return problems


def to_dict(schema: str = ATHENA_MARTS_SCHEMA) -> dict:
    """The whole spec as plain JSON-able data (SQL rendered for ``schema``), for infra/."""
    dashboards = []
    for board in DASHBOARDS:
        rendered = asdict(board)
        for visual, visual_dict in zip(board.visuals, rendered["visuals"], strict=True):
            for measure, measure_dict in zip(visual.measures, visual_dict["measures"], strict=True):
                # Ratios become QuickSight calculated fields; plain measures are column aggregations.
                measure_dict["kind"] = "ratio" if isinstance(measure, Ratio) else "measure"
                if isinstance(measure, Ratio):
                    measure_dict["expression"] = measure.quicksight_expression
        dashboards.append(rendered)
    return {"datasets": [{**asdict(ds), "sql": ds.sql(schema)} for ds in DATASETS], "dashboards": dashboards}


if __name__ == "__main__":
    import json

    print(json.dumps(to_dict(), indent=2, default=str))
