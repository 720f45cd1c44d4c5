"""QuickSight over the dbt marts: Athena data source, custom-SQL datasets and a dashboard.

Generated from analytics/quicksight_spec.py (the analytics engineer's dependency-free description of
datasets and visuals), so the local HTML dashboard and QuickSight show the same things. Any object
with DATASETS and DASHBOARD attributes works (the tests use a small stand-in). QuickSight needs an
account subscription and the principal (user/group) that may see the assets; see infra/README.md.
"""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_quicksight as qs
from constructs import Construct

from stacks import names
from stacks.compliance import acknowledge_all, wildcard_resources
from stacks.settings import EnvSettings

QS_SERVICE_ROLE = "aws-quicksight-service-role-v0"
QS_TYPES = ("STRING", "INTEGER", "DECIMAL", "DATETIME", "BOOLEAN")
VISUAL_KINDS = ("kpi", "bar", "line", "table")
_AGGREGATIONS = {"SUM": "SUM", "AVG": "AVERAGE", "MIN": "MIN", "MAX": "MAX", "COUNT": "COUNT"}
_DATASOURCE_ACTIONS = ["quicksight:DescribeDataSource", "quicksight:DescribeDataSourcePermissions",
                       "quicksight:PassDataSource"]
_DATASET_ACTIONS = ["quicksight:DescribeDataSet", "quicksight:DescribeDataSetPermissions",
                    "quicksight:PassDataSet", "quicksight:DescribeIngestion", "quicksight:ListIngestions"]
_DASHBOARD_ACTIONS = ["quicksight:DescribeDashboard", "quicksight:ListDashboardVersions",
                      "quicksight:QueryDashboard"]


class SpecError(ValueError):
    """The QuickSight spec is incomplete or inconsistent; the message names the dataset/visual."""


def spec_data(spec: Any) -> dict:
    """The spec as plain data: a dict as-is, or a module's `to_dict()` (analytics/quicksight_spec.py)."""
    if isinstance(spec, dict):
        data = spec
    elif callable(getattr(spec, "to_dict", None)):
        problems = spec.validate() if callable(getattr(spec, "validate", None)) else []
        if problems:
            raise SpecError(f"analytics/quicksight_spec.py is inconsistent: {problems}")
        data = spec.to_dict()
    else:
        raise SpecError(f"cannot read a QuickSight spec from {spec!r}: expected a dict or a module with to_dict()")
    check_spec(data)
    return data


def check_spec(data: dict) -> None:
    """Every visual refers to a known dataset and only to its columns, with supported kinds and types."""
    datasets = {d["id"]: d for d in data.get("datasets") or []}
    if not datasets:
        raise SpecError("the QuickSight spec defines no datasets")
    for ds in datasets.values():
        if not ds.get("sql") or not ds.get("columns"):
            raise SpecError(f"dataset {ds['id']} needs sql and columns")
        bad = [c["name"] for c in ds["columns"] if c["type"] not in QS_TYPES]
        if bad:
            raise SpecError(f"dataset {ds['id']}: unsupported column types for {bad}")
    if not data.get("dashboards"):
        raise SpecError("the QuickSight spec defines no dashboards")
    for board in data["dashboards"]:
        for v in board["visuals"]:
            where = f"{board['id']}/{v['id']}"
            if v["dataset"] not in datasets:
                raise SpecError(f"{where}: unknown dataset {v['dataset']!r}")
            if v["kind"] not in VISUAL_KINDS:
                raise SpecError(f"{where}: unsupported visual kind {v['kind']!r}")
            columns = {c["name"] for c in datasets[v["dataset"]]["columns"]}
            used = [v.get("category"), v.get("color"), v.get("sort_by"), *(v.get("columns") or ()),
                    *(f["column"] for f in v.get("filters") or ())]
            for m in v.get("measures") or ():
                used += [m["numerator"], m["denominator"]] if "numerator" in m else [m["column"]]
                if "aggregation" in m and m["aggregation"] not in _AGGREGATIONS:
                    raise SpecError(f"{where}: unsupported aggregation {m['aggregation']!r}")
            unknown = [c for c in used if c and c not in columns]
            if unknown:
                raise SpecError(f"{where}: columns {unknown} are not in dataset {v['dataset']}")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", str(text).lower()).strip("-")


class AnalyticsStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvSettings, spec: Any, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        Tags.of(self).add("project", "talent-marketplace")
        Tags.of(self).add("environment", settings.name)
        data = spec_data(spec)
        principal = settings.quicksight_principal_arn or self.format_arn(
            service="quicksight", resource="group", resource_name="default/marketplace-analysts")
        prefix = f"marketplace-{settings.name}"

        self._grant_quicksight_role(settings)
        self.data_source = qs.CfnDataSource(
            self,
            "AthenaSource",
            aws_account_id=self.account,
            data_source_id=f"{prefix}-athena",
            name=f"Marketplace marts ({settings.name})",
            type="ATHENA",
            data_source_parameters=qs.CfnDataSource.DataSourceParametersProperty(
                athena_parameters=qs.CfnDataSource.AthenaParametersProperty(
                    work_group=names.workgroup_name("quicksight"))),
            ssl_properties=qs.CfnDataSource.SslPropertiesProperty(disable_ssl=False),
            permissions=[qs.CfnDataSource.ResourcePermissionProperty(principal=principal,
                                                                     actions=_DATASOURCE_ACTIONS)],
        )
        self.column_types: dict[str, dict[str, str]] = {}
        self.datasets: dict[str, qs.CfnDataSet] = {}
        for ds in data["datasets"]:
            self.column_types[ds["id"]] = {c["name"]: c["type"] for c in ds["columns"]}
            self.datasets[ds["id"]] = qs.CfnDataSet(
                self,
                f"DataSet-{ds['id']}",
                aws_account_id=self.account,
                data_set_id=f"{prefix}-{_slug(ds['id'])}",
                name=ds["name"],
                import_mode="DIRECT_QUERY",  # marts are small and rebuilt nightly: no SPICE refresh to schedule
                physical_table_map={_slug(ds["id"]): qs.CfnDataSet.PhysicalTableProperty(
                    custom_sql=qs.CfnDataSet.CustomSqlProperty(
                        data_source_arn=self.data_source.attr_arn, name=ds["id"], sql_query=ds["sql"],
                        columns=[qs.CfnDataSet.InputColumnProperty(name=c["name"], type=c["type"])
                                 for c in ds["columns"]]))},
                permissions=[qs.CfnDataSet.ResourcePermissionProperty(principal=principal, actions=_DATASET_ACTIONS)],
            )
        self.dashboards: dict[str, qs.CfnDashboard] = {}
        for board in data["dashboards"]:
            self.dashboards[board["id"]] = qs.CfnDashboard(
                self,
                f"Dashboard-{board['id']}",
                aws_account_id=self.account,
                dashboard_id=f"{prefix}-{_slug(board['id'])}",
                name=f"{board['title']} ({settings.name})",
                definition=_DefinitionBuilder(board, self.datasets, self.column_types).build(),
                permissions=[qs.CfnDashboard.ResourcePermissionProperty(principal=principal,
                                                                        actions=_DASHBOARD_ACTIONS)],
                version_description=board.get("description") or None,
            )

    def _grant_quicksight_role(self, settings: EnvSettings) -> None:
        """QuickSight's service role queries the marts through Athena: results prefix, lake objects, key, catalog.

        ARNs are rebuilt from the deterministic names (and the key from its alias) instead of importing
        them from the platform stack, so the two stacks can be deployed and changed independently.
        """
        role = iam.Role.from_role_name(self, "QuickSightServiceRole", QS_SERVICE_ROLE)
        bucket = {z: f"arn:{self.partition}:s3:::{names.bucket_name(settings.name, z)}"
                  for z in ("silver", "gold", "athena-results")}
        catalog = [self.format_arn(service="glue", resource="catalog"),
                   self.format_arn(service="glue", resource="database", resource_name=f"{names.GLUE_DATABASE}*"),
                   self.format_arn(service="glue", resource="table", resource_name=f"{names.GLUE_DATABASE}*/*")]
        self.quicksight_policy = iam.Policy(self, "QuickSightLakeAccess", statements=[
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[
                f"{bucket['silver']}/*", f"{bucket['gold']}/*", f"{bucket['athena-results']}/quicksight/*"]),
            iam.PolicyStatement(actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                                resources=[f"{bucket['athena-results']}/quicksight/*"]),
            iam.PolicyStatement(actions=["s3:ListBucket", "s3:GetBucketLocation"], resources=list(bucket.values())),
            iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"],
                                resources=[self.format_arn(service="kms", resource="key", resource_name="*")],
                                conditions={"ForAnyValue:StringEquals": {
                                    "kms:ResourceAliases": f"alias/marketplace-{settings.name}-lake"}}),
            iam.PolicyStatement(actions=["athena:StartQueryExecution", "athena:GetQueryExecution",
                                         "athena:GetQueryResults", "athena:GetWorkGroup"],
                                resources=[self.format_arn(service="athena", resource="workgroup",
                                                           resource_name=names.workgroup_name("quicksight"))]),
            iam.PolicyStatement(actions=["glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables",
                                         "glue:GetPartition", "glue:GetPartitions"], resources=catalog),
        ])
        self.quicksight_policy.attach_to_role(role)
        prefix = f"arn:<AWS::Partition>:s3:::marketplace-{settings.name}-<AWS::AccountId>"
        acknowledge_all(self.quicksight_policy, wildcard_resources(
            f"{prefix}-silver/*", f"{prefix}-gold/*", f"{prefix}-athena-results/quicksight/*",
            "arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*",
            f"arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:database/{names.GLUE_DATABASE}*",
            f"arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/{names.GLUE_DATABASE}*/*",
        ), "QuickSight reads silver/gold objects through Athena and writes only its own results prefix; the key "
           "wildcard is narrowed by a kms:ResourceAliases condition to the lake key; catalog access is read-only "
           "and limited to the lake (marketplace) and dbt (marketplace_analytics*) databases.")


class _DefinitionBuilder:
    """Turns one dashboard of the spec into a QuickSight DashboardVersionDefinition."""

    def __init__(self, board: dict, datasets: dict[str, qs.CfnDataSet], column_types: dict[str, dict[str, str]]):
        self.board = board
        self.datasets = datasets
        self.types = column_types
        self.sheet_id = _slug(board["id"])
        self.calculated: list[qs.CfnDashboard.CalculatedFieldProperty] = []
        self.filter_groups: list[qs.CfnDashboard.FilterGroupProperty] = []

    def build(self) -> qs.CfnDashboard.DashboardVersionDefinitionProperty:
        visuals = [self._visual(v) for v in self.board["visuals"]]
        used = sorted({v["dataset"] for v in self.board["visuals"]})
        elements = [qs.CfnDashboard.GridLayoutElementProperty(
            element_id=_slug(v["id"]), element_type="VISUAL",
            column_span=12 if v["kind"] == "kpi" else 18, row_span=5 if v["kind"] == "kpi" else 10)
            for v in self.board["visuals"]]
        return qs.CfnDashboard.DashboardVersionDefinitionProperty(
            data_set_identifier_declarations=[qs.CfnDashboard.DataSetIdentifierDeclarationProperty(
                identifier=ds, data_set_arn=self.datasets[ds].attr_arn) for ds in used],
            calculated_fields=self.calculated or None,
            filter_groups=self.filter_groups or None,
            sheets=[qs.CfnDashboard.SheetDefinitionProperty(
                sheet_id=self.sheet_id, name=self.board["title"], title=self.board["title"],
                description=self.board.get("description") or None, visuals=visuals,
                layouts=[qs.CfnDashboard.LayoutProperty(configuration=qs.CfnDashboard.LayoutConfigurationProperty(
                    grid_layout=qs.CfnDashboard.GridLayoutConfigurationProperty(elements=elements)))])],
        )

    # -- fields --------------------------------------------------------------------------------
    def _column(self, ds: str, column: str) -> qs.CfnDashboard.ColumnIdentifierProperty:
        return qs.CfnDashboard.ColumnIdentifierProperty(data_set_identifier=ds, column_name=column)

    def _dimension(self, v: dict, column: str, role: str) -> qs.CfnDashboard.DimensionFieldProperty:
        field_id = f"{_slug(v['id'])}-{role}-{_slug(column)}"
        col, kind = self._column(v["dataset"], column), self.types[v["dataset"]][column]
        if kind == "DATETIME":
            return qs.CfnDashboard.DimensionFieldProperty(date_dimension_field=qs.CfnDashboard.DateDimensionFieldProperty(
                field_id=field_id, column=col, date_granularity="DAY"))
        if kind in ("INTEGER", "DECIMAL"):
            return qs.CfnDashboard.DimensionFieldProperty(
                numerical_dimension_field=qs.CfnDashboard.NumericalDimensionFieldProperty(field_id=field_id, column=col))
        return qs.CfnDashboard.DimensionFieldProperty(
            categorical_dimension_field=qs.CfnDashboard.CategoricalDimensionFieldProperty(field_id=field_id, column=col))

    def _measures(self, v: dict) -> list[qs.CfnDashboard.MeasureFieldProperty]:
        fields = []
        for index, m in enumerate(v.get("measures") or ()):
            field_id = f"{_slug(v['id'])}-m{index}"
            if "numerator" in m:  # a Ratio: sum(num) / sum(den) as a calculated field, never averaged
                name = f"{_slug(v['id'])}-ratio-{index}"
                self.calculated.append(qs.CfnDashboard.CalculatedFieldProperty(
                    data_set_identifier=v["dataset"], name=name,
                    expression=f"sum({{{m['numerator']}}}) / sum({{{m['denominator']}}})"))
                fields.append(qs.CfnDashboard.MeasureFieldProperty(
                    numerical_measure_field=qs.CfnDashboard.NumericalMeasureFieldProperty(
                        field_id=field_id, column=self._column(v["dataset"], name))))
            else:
                fields.append(qs.CfnDashboard.MeasureFieldProperty(
                    numerical_measure_field=qs.CfnDashboard.NumericalMeasureFieldProperty(
                        field_id=field_id, column=self._column(v["dataset"], m["column"]),
                        aggregation_function=qs.CfnDashboard.NumericalAggregationFunctionProperty(
                            simple_numerical_aggregation=_AGGREGATIONS[m["aggregation"]]))))
        return fields

    def _category_sort(self, v: dict) -> list[qs.CfnDashboard.FieldSortOptionsProperty] | None:
        sort_by = v.get("sort_by")
        if not sort_by:
            return None
        if sort_by == v.get("category"):
            return [qs.CfnDashboard.FieldSortOptionsProperty(field_sort=qs.CfnDashboard.FieldSortProperty(
                field_id=f"{_slug(v['id'])}-category-{_slug(sort_by)}", direction="ASC"))]
        numeric = self.types[v["dataset"]][sort_by] in ("INTEGER", "DECIMAL")
        aggregation = (qs.CfnDashboard.AggregationFunctionProperty(
            numerical_aggregation_function=qs.CfnDashboard.NumericalAggregationFunctionProperty(
                simple_numerical_aggregation="MIN")) if numeric
            else qs.CfnDashboard.AggregationFunctionProperty(categorical_aggregation_function="COUNT"))
        return [qs.CfnDashboard.FieldSortOptionsProperty(column_sort=qs.CfnDashboard.ColumnSortProperty(
            sort_by=self._column(v["dataset"], sort_by), direction="ASC", aggregation_function=aggregation))]

    # -- filters -------------------------------------------------------------------------------
    def _filters(self, v: dict) -> None:
        for index, f in enumerate(v.get("filters") or ()):
            filter_id = f"{_slug(v['id'])}-f{index}"
            column = self._column(v["dataset"], f["column"])
            kind, op, value = self.types[v["dataset"]][f["column"]], f["operator"], f["value"]
            if kind in ("INTEGER", "DECIMAL"):
                if op in ("=", "!="):
                    flt = qs.CfnDashboard.FilterProperty(numeric_equality_filter=qs.CfnDashboard.NumericEqualityFilterProperty(
                        filter_id=filter_id, column=column, match_operator="EQUALS" if op == "=" else "DOES_NOT_EQUAL",
                        null_option="NON_NULLS_ONLY", value=float(value)))
                else:
                    bound = qs.CfnDashboard.NumericRangeFilterValueProperty(static_value=float(value))
                    flt = qs.CfnDashboard.FilterProperty(numeric_range_filter=qs.CfnDashboard.NumericRangeFilterProperty(
                        filter_id=filter_id, column=column, null_option="NON_NULLS_ONLY",
                        range_maximum=bound if op == "<=" else None, include_maximum=True if op == "<=" else None,
                        range_minimum=bound if op == ">=" else None, include_minimum=True if op == ">=" else None))
            else:
                if op not in ("=", "!="):
                    raise SpecError(f"{v['id']}: operator {op} needs a numeric column, {f['column']} is {kind}")
                text = str(value).lower() if isinstance(value, bool) else str(value)
                flt = qs.CfnDashboard.FilterProperty(category_filter=qs.CfnDashboard.CategoryFilterProperty(
                    filter_id=filter_id, column=column,
                    configuration=qs.CfnDashboard.CategoryFilterConfigurationProperty(
                        filter_list_configuration=qs.CfnDashboard.FilterListConfigurationProperty(
                            match_operator="CONTAINS" if op == "=" else "DOES_NOT_CONTAIN",
                            category_values=[text]))))
            self.filter_groups.append(qs.CfnDashboard.FilterGroupProperty(
                filter_group_id=filter_id, cross_dataset="SINGLE_DATASET", status="ENABLED", filters=[flt],
                scope_configuration=qs.CfnDashboard.FilterScopeConfigurationProperty(
                    selected_sheets=qs.CfnDashboard.SelectedSheetsFilterScopeConfigurationProperty(
                        sheet_visual_scoping_configurations=[qs.CfnDashboard.SheetVisualScopingConfigurationProperty(
                            sheet_id=self.sheet_id, scope="SELECTED_VISUALS", visual_ids=[_slug(v["id"])])]))))

    # -- visuals -------------------------------------------------------------------------------
    def _visual(self, v: dict) -> qs.CfnDashboard.VisualProperty:
        self._filters(v)
        visual_id = _slug(v["id"])
        title = qs.CfnDashboard.VisualTitleLabelOptionsProperty(
            visibility="VISIBLE", format_text=qs.CfnDashboard.ShortFormatTextProperty(plain_text=v["title"]))
        subtitle = (qs.CfnDashboard.VisualSubtitleLabelOptionsProperty(
            visibility="VISIBLE", format_text=qs.CfnDashboard.LongFormatTextProperty(plain_text=v["description"]))
            if v.get("description") else None)
        measures = self._measures(v)
        category = [self._dimension(v, v["category"], "category")] if v.get("category") else []
        colors = [self._dimension(v, v["color"], "color")] if v.get("color") else []
        if v["kind"] == "kpi":
            return qs.CfnDashboard.VisualProperty(kpi_visual=qs.CfnDashboard.KPIVisualProperty(
                visual_id=visual_id, title=title, subtitle=subtitle,
                chart_configuration=qs.CfnDashboard.KPIConfigurationProperty(
                    field_wells=qs.CfnDashboard.KPIFieldWellsProperty(values=measures))))
        if v["kind"] == "line":
            return qs.CfnDashboard.VisualProperty(line_chart_visual=qs.CfnDashboard.LineChartVisualProperty(
                visual_id=visual_id, title=title, subtitle=subtitle,
                chart_configuration=qs.CfnDashboard.LineChartConfigurationProperty(
                    field_wells=qs.CfnDashboard.LineChartFieldWellsProperty(
                        line_chart_aggregated_field_wells=qs.CfnDashboard.LineChartAggregatedFieldWellsProperty(
                            category=category, colors=colors or None, values=measures)),
                    sort_configuration=qs.CfnDashboard.LineChartSortConfigurationProperty(
                        category_sort=self._category_sort(v)) if v.get("sort_by") else None)))
        if v["kind"] == "bar":
            return qs.CfnDashboard.VisualProperty(bar_chart_visual=qs.CfnDashboard.BarChartVisualProperty(
                visual_id=visual_id, title=title, subtitle=subtitle,
                chart_configuration=qs.CfnDashboard.BarChartConfigurationProperty(
                    orientation="HORIZONTAL" if v.get("horizontal") else "VERTICAL",
                    field_wells=qs.CfnDashboard.BarChartFieldWellsProperty(
                        bar_chart_aggregated_field_wells=qs.CfnDashboard.BarChartAggregatedFieldWellsProperty(
                            category=category, colors=colors or None, values=measures)),
                    sort_configuration=qs.CfnDashboard.BarChartSortConfigurationProperty(
                        category_sort=self._category_sort(v)) if v.get("sort_by") else None)))
        # table: the listed columns, unaggregated, sorted and paginated to top_n rows
        values = [qs.CfnDashboard.UnaggregatedFieldProperty(
            field_id=f"{visual_id}-col-{_slug(c)}", column=self._column(v["dataset"], c)) for c in v["columns"]]
        sort = None
        if v.get("sort_by") or v.get("top_n"):
            sort = qs.CfnDashboard.TableSortConfigurationProperty(
                row_sort=[qs.CfnDashboard.FieldSortOptionsProperty(field_sort=qs.CfnDashboard.FieldSortProperty(
                    field_id=f"{visual_id}-col-{_slug(v['sort_by'])}", direction="ASC"))] if v.get("sort_by") else None,
                pagination_configuration=qs.CfnDashboard.PaginationConfigurationProperty(
                    page_size=int(v["top_n"]), page_number=1) if v.get("top_n") else None)
        return qs.CfnDashboard.VisualProperty(table_visual=qs.CfnDashboard.TableVisualProperty(
            visual_id=visual_id, title=title, subtitle=subtitle,
            chart_configuration=qs.CfnDashboard.TableConfigurationProperty(
                field_wells=qs.CfnDashboard.TableFieldWellsProperty(
                    table_unaggregated_field_wells=qs.CfnDashboard.TableUnaggregatedFieldWellsProperty(values=values)),
                sort_configuration=sort)))
