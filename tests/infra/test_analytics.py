"""QuickSight stack generated from analytics/quicksight_spec.py (and a stand-in spec for edge cases)."""

from __future__ import annotations

import copy

import pytest

from tests.infra.conftest import cdk_context, resources_of

pytestmark = pytest.mark.unit

STAND_IN = {
    "datasets": [{"id": "balance", "name": "Balance", "sql": "select tenant_id, jobs, applications, week from m.t",
                  "columns": [{"name": "tenant_id", "type": "STRING"}, {"name": "jobs", "type": "INTEGER"},
                              {"name": "applications", "type": "INTEGER"}, {"name": "week", "type": "DATETIME"}]}],
    "dashboards": [{"id": "health", "title": "Health", "description": "d", "visuals": [
        {"id": "apps-per-job", "title": "Applications per job", "dataset": "balance", "kind": "bar",
         "measures": [{"numerator": "applications", "denominator": "jobs", "label": "per job"}],
         "category": "tenant_id", "color": None, "filters": [{"column": "jobs", "operator": ">=", "value": 1}],
         "sort_by": "jobs", "horizontal": True, "columns": [], "top_n": None, "description": ""},
        {"id": "jobs", "title": "Jobs", "dataset": "balance", "kind": "kpi",
         "measures": [{"column": "jobs", "aggregation": "SUM", "label": None}], "category": None, "color": None,
         "filters": [{"column": "tenant_id", "operator": "!=", "value": "test"}], "sort_by": None,
         "horizontal": False, "columns": [], "top_n": None, "description": ""},
        {"id": "rows", "title": "Rows", "dataset": "balance", "kind": "table", "measures": [], "category": None,
         "color": None, "filters": [], "sort_by": "week", "horizontal": False, "columns": ["tenant_id", "week"],
         "top_n": 20, "description": ""}]}],
}


def _stack(spec):
    import aws_cdk as cdk
    from aws_cdk.assertions import Template
    from stacks.analytics_stack import AnalyticsStack
    from stacks.settings import settings_from_context

    app = cdk.App()
    settings = settings_from_context(cdk_context().get)
    return Template.from_stack(AnalyticsStack(app, "Qs", settings=settings, spec=spec)).to_json()


def test_real_spec_becomes_one_dataset_per_mart_and_one_dashboard_per_board(dev_synth):
    from analytics import quicksight_spec as spec

    template = dev_synth.template("Marketplace-dev-Analytics")
    source = next(iter(resources_of(template, "AWS::QuickSight::DataSource").values()))["Properties"]
    assert source["Type"] == "ATHENA"
    assert source["DataSourceParameters"]["AthenaParameters"]["WorkGroup"] == "marketplace-quicksight"
    datasets = {d["Properties"]["Name"]: d["Properties"] for d in resources_of(template, "AWS::QuickSight::DataSet").values()}
    assert set(datasets) == {d.name for d in spec.DATASETS}
    for ds in spec.DATASETS:
        sql = next(iter(datasets[ds.name]["PhysicalTableMap"].values()))["CustomSql"]
        assert sql["SqlQuery"] == ds.sql(spec.ATHENA_MARTS_SCHEMA)
        assert [c["Name"] for c in sql["Columns"]] == [c.name for c in ds.columns]
    dashboards = resources_of(template, "AWS::QuickSight::Dashboard")
    assert len(dashboards) == len(spec.DASHBOARDS)
    visual_count = sum(len(d["Properties"]["Definition"]["Sheets"][0]["Visuals"]) for d in dashboards.values())
    assert visual_count == sum(len(b.visuals) for b in spec.DASHBOARDS)


def test_ratio_is_a_calculated_field_and_filters_are_scoped_to_their_visual():
    template = _stack(STAND_IN)
    board = next(iter(resources_of(template, "AWS::QuickSight::Dashboard").values()))["Properties"]["Definition"]
    assert board["CalculatedFields"] == [{"DataSetIdentifier": "balance", "Name": "apps-per-job-ratio-0",
                                          "Expression": "sum({applications}) / sum({jobs})"}]
    groups = {g["FilterGroupId"]: g for g in board["FilterGroups"]}
    numeric = groups["apps-per-job-f0"]["Filters"][0]["NumericRangeFilter"]
    assert numeric["RangeMinimum"] == {"StaticValue": 1} and numeric["IncludeMinimum"] is True
    category = groups["jobs-f0"]["Filters"][0]["CategoryFilter"]["Configuration"]["FilterListConfiguration"]
    assert category == {"MatchOperator": "DOES_NOT_CONTAIN", "CategoryValues": ["test"]}
    scope = groups["jobs-f0"]["ScopeConfiguration"]["SelectedSheets"]["SheetVisualScopingConfigurations"][0]
    assert scope["VisualIds"] == ["jobs"]
    visuals = {next(iter(v.values()))["VisualId"]: v for v in board["Sheets"][0]["Visuals"]}
    assert visuals["apps-per-job"]["BarChartVisual"]["ChartConfiguration"]["Orientation"] == "HORIZONTAL"
    table = visuals["rows"]["TableVisual"]["ChartConfiguration"]
    assert table["SortConfiguration"]["PaginationConfiguration"]["PageSize"] == 20


@pytest.mark.parametrize("breakage, message", [
    (lambda s: s["dashboards"][0]["visuals"][0].update(dataset="nope"), "unknown dataset"),
    (lambda s: s["dashboards"][0]["visuals"][1]["measures"][0].update(column="salary"), "not in dataset"),
    (lambda s: s["datasets"][0]["columns"][0].update(type="GEOGRAPHY"), "unsupported column types"),
    (lambda s: s["dashboards"][0]["visuals"][2].update(kind="sankey"), "unsupported visual kind"),
])
def test_inconsistent_specs_are_refused_with_a_clear_error(breakage, message):
    from stacks.analytics_stack import SpecError, spec_data

    spec = copy.deepcopy(STAND_IN)
    breakage(spec)
    with pytest.raises(SpecError, match=message):
        spec_data(spec)


def test_a_range_filter_on_a_text_column_is_a_clear_error():
    from stacks.quicksight_definition import DefinitionError

    spec = copy.deepcopy(STAND_IN)
    spec["dashboards"][0]["visuals"][1]["filters"] = [{"column": "tenant_id", "operator": "<=", "value": "x"}]
    with pytest.raises(DefinitionError, match="needs a numeric column"):
        _stack(spec)


def _quicksight_statements(template):
    policy = next(p for p in resources_of(template, "AWS::IAM::Policy").values()
                  if p["Properties"]["Roles"] == ["aws-quicksight-service-role-v0"])
    return policy["Properties"]["PolicyDocument"]["Statement"]


def _flat(value):
    from tests.infra.conftest import render

    values = value if isinstance(value, list) else [value]
    return [render(v) for v in values]


def test_quicksight_reads_only_the_marts_never_silver_or_profile_texts(dev_synth):
    from analytics.quicksight_spec import ATHENA_MARTS_SCHEMA

    statements = _quicksight_statements(dev_synth.template("Marketplace-dev-Analytics"))
    resources = [r for s in statements for r in _flat(s["Resource"])]
    assert not any("-silver" in r for r in resources), resources
    gold = [r for r in resources if "-gold" in r]
    assert gold and all(r.endswith("-gold") or f"-gold/warehouse/{ATHENA_MARTS_SCHEMA}/" in r for r in gold), gold
    reads = [r for s in statements if "s3:GetObject" in _flat(s["Action"]) for r in _flat(s["Resource"])]
    assert all(f"/warehouse/{ATHENA_MARTS_SCHEMA}/" in r or "/quicksight/" in r for r in reads), reads
    for s in statements:  # listing the bucket is confined to the marts prefix too
        if "s3:ListBucket" in _flat(s["Action"]):
            prefixes = s["Condition"]["StringLike"]["s3:prefix"]
            assert all(p.startswith((f"warehouse/{ATHENA_MARTS_SCHEMA}/", "quicksight/")) for p in prefixes)
    glue = [r for s in statements if any(a.startswith("glue:") for a in _flat(s["Action"]))
            for r in _flat(s["Resource"])]
    assert glue and all(r.endswith(":catalog") or ATHENA_MARTS_SCHEMA in r for r in glue), glue
    assert not any(r.endswith((":database/marketplace", ":database/marketplace*")) for r in glue)
