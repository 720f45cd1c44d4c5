"""QuickSight over the dbt marts: Athena data source, custom-SQL datasets and a dashboard.

Generated from analytics/quicksight_spec.py (the analytics engineer's dependency-free description of
datasets and visuals), so the local HTML dashboard and QuickSight show the same things. Any object
with DATASETS and DASHBOARD attributes works (the tests use a small stand-in). QuickSight needs an
account subscription and the principal (user/group) that may see the assets; see infra/README.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aws_cdk import Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_quicksight as qs
from constructs import Construct

from stacks import names
from stacks.compliance import acknowledge
from stacks.settings import EnvSettings

QS_SERVICE_ROLE = "aws-quicksight-service-role-v0"
_TYPES = {"string": "STRING", "str": "STRING", "varchar": "STRING", "int": "INTEGER", "integer": "INTEGER",
          "bigint": "INTEGER", "double": "DECIMAL", "decimal": "DECIMAL", "float": "DECIMAL", "number": "DECIMAL",
          "date": "DATETIME", "datetime": "DATETIME", "timestamp": "DATETIME", "bool": "BOOLEAN",
          "boolean": "BOOLEAN"}
_DATASOURCE_ACTIONS = ["quicksight:DescribeDataSource", "quicksight:DescribeDataSourcePermissions",
                       "quicksight:PassDataSource"]
_DATASET_ACTIONS = ["quicksight:DescribeDataSet", "quicksight:DescribeDataSetPermissions",
                    "quicksight:PassDataSet", "quicksight:DescribeIngestion", "quicksight:ListIngestions"]
_DASHBOARD_ACTIONS = ["quicksight:DescribeDashboard", "quicksight:ListDashboardVersions",
                      "quicksight:QueryDashboard"]


class SpecError(ValueError):
    """The QuickSight spec is incomplete or inconsistent; the message names the dataset/visual."""


def _get(obj: Any, key: str, default: Any = None) -> Any:
    return obj.get(key, default) if isinstance(obj, dict) else getattr(obj, key, default)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")


@dataclass(frozen=True)
class DatasetDef:
    id: str
    name: str
    sql: str
    columns: list[tuple[str, str]]  # (name, QuickSight type)


@dataclass(frozen=True)
class VisualDef:
    id: str
    kind: str  # bar | line | kpi | table | pie
    title: str
    dataset: str
    dimensions: list[str]
    measures: list[tuple[str, str]]  # (column, aggregation SUM/AVERAGE/COUNT/MIN/MAX)


def normalise_spec(spec: Any) -> tuple[list[DatasetDef], str, list[tuple[str, list[VisualDef]]]]:
    """Datasets, dashboard name and [(sheet name, visuals)] from the analytics spec, validated."""
    datasets = []
    for raw in _get(spec, "DATASETS") or []:
        ds_id = _slug(str(_get(raw, "id") or _get(raw, "name") or ""))
        sql = _get(raw, "sql") or _get(raw, "custom_sql")
        columns = []
        for column in _get(raw, "columns") or []:
            name, ctype = (column if isinstance(column, list | tuple) else (_get(column, "name"), _get(column, "type")))
            if str(ctype).lower() not in _TYPES and str(ctype).upper() not in _TYPES.values():
                raise SpecError(f"dataset {ds_id}: column {name} has unsupported type {ctype!r}")
            columns.append((str(name), _TYPES.get(str(ctype).lower(), str(ctype).upper())))
        if not ds_id or not sql or not columns:
            raise SpecError(f"dataset {raw!r} needs an id/name, sql and columns")
        datasets.append(DatasetDef(ds_id, str(_get(raw, "name") or ds_id), str(sql), columns))
    if not datasets:
        raise SpecError("the QuickSight spec defines no DATASETS")
    known = {d.id: d for d in datasets}
    dashboard = _get(spec, "DASHBOARD") or {}
    sheets = []
    for sheet_index, sheet in enumerate(_get(dashboard, "sheets") or [{"name": "Overview",
                                                                       "visuals": _get(dashboard, "visuals")}]):
        visuals = []
        for index, raw in enumerate(_get(sheet, "visuals") or []):
            dataset = _slug(str(_get(raw, "dataset") or ""))
            if dataset not in known:
                raise SpecError(f"visual {_get(raw, 'title')!r} uses unknown dataset {dataset!r}")
            columns = {name for name, _ in known[dataset].columns}
            dims = [str(d) for d in (_get(raw, "dimensions") or _as_list(_get(raw, "x")) or [])]
            measures = []
            for m in _get(raw, "measures") or _as_list(_get(raw, "y")) or []:
                column, agg = (m if isinstance(m, list | tuple) else (m, _get(raw, "aggregation") or "SUM"))
                measures.append((str(column), str(agg).upper()))
            for column in dims + [c for c, _ in measures]:
                if column not in columns:
                    raise SpecError(f"visual {_get(raw, 'title')!r}: column {column!r} not in dataset {dataset}")
            kind = str(_get(raw, "kind") or _get(raw, "type") or "table").lower()
            visuals.append(VisualDef(_slug(str(_get(raw, "id") or f"s{sheet_index}-v{index}")), kind,
                                     str(_get(raw, "title") or kind), dataset, dims, measures))
        sheets.append((str(_get(sheet, "name") or f"Sheet {sheet_index + 1}"), visuals))
    return datasets, str(_get(dashboard, "name") or "Marketplace"), sheets


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


class AnalyticsStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvSettings, spec: Any,
                 lake_bucket_arns: dict[str, str], lake_key_arn: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        Tags.of(self).add("project", "talent-marketplace")
        Tags.of(self).add("environment", settings.name)
        datasets, dashboard_name, sheets = normalise_spec(spec)
        principal = settings.quicksight_principal_arn or self.format_arn(
            service="quicksight", resource="group", resource_name="default/marketplace-analysts")
        prefix = f"marketplace-{settings.name}"

        self._grant_quicksight_role(lake_bucket_arns, lake_key_arn)
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
        self.datasets: dict[str, qs.CfnDataSet] = {}
        for ds in datasets:
            self.datasets[ds.id] = qs.CfnDataSet(
                self,
                f"DataSet-{ds.id}",
                aws_account_id=self.account,
                data_set_id=f"{prefix}-{ds.id}",
                name=ds.name,
                import_mode="DIRECT_QUERY",  # marts are small and rebuilt nightly; no SPICE refresh to schedule
                physical_table_map={ds.id: qs.CfnDataSet.PhysicalTableProperty(
                    custom_sql=qs.CfnDataSet.CustomSqlProperty(
                        data_source_arn=self.data_source.attr_arn, name=ds.id, sql_query=ds.sql,
                        columns=[qs.CfnDataSet.InputColumnProperty(name=n, type=t) for n, t in ds.columns]))},
                permissions=[qs.CfnDataSet.ResourcePermissionProperty(principal=principal, actions=_DATASET_ACTIONS)],
            )
        self.dashboard = qs.CfnDashboard(
            self,
            "Dashboard",
            aws_account_id=self.account,
            dashboard_id=f"{prefix}-dashboard",
            name=f"{dashboard_name} ({settings.name})",
            definition=qs.CfnDashboard.DashboardVersionDefinitionProperty(
                data_set_identifier_declarations=[
                    qs.CfnDashboard.DataSetIdentifierDeclarationProperty(
                        identifier=ds_id, data_set_arn=dataset.attr_arn)
                    for ds_id, dataset in self.datasets.items()],
                sheets=[qs.CfnDashboard.SheetDefinitionProperty(
                    sheet_id=_slug(name) or f"sheet-{i}", name=name,
                    visuals=[_visual(v) for v in visuals]) for i, (name, visuals) in enumerate(sheets)],
            ),
            permissions=[qs.CfnDashboard.ResourcePermissionProperty(principal=principal,
                                                                    actions=_DASHBOARD_ACTIONS)],
        )

    def _grant_quicksight_role(self, bucket_arns: dict[str, str], key_arn: str) -> None:
        """QuickSight's service role reads the marts through Athena: results bucket, gold/silver, key, catalog."""
        role = iam.Role.from_role_name(self, "QuickSightServiceRole", QS_SERVICE_ROLE)
        policy = iam.Policy(self, "QuickSightLakeAccess", statements=[
            iam.PolicyStatement(actions=["s3:GetObject"],
                                resources=[f"{bucket_arns[z]}/*" for z in ("silver", "gold")]
                                + [f"{bucket_arns['athena-results']}/quicksight/*"]),
            iam.PolicyStatement(actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                                resources=[f"{bucket_arns['athena-results']}/quicksight/*"]),
            iam.PolicyStatement(actions=["s3:ListBucket", "s3:GetBucketLocation"],
                                resources=[bucket_arns[z] for z in ("silver", "gold", "athena-results")]),
            iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key_arn]),
            iam.PolicyStatement(actions=["athena:StartQueryExecution", "athena:GetQueryExecution",
                                         "athena:GetQueryResults", "athena:GetWorkGroup"],
                                resources=[self.format_arn(service="athena", resource="workgroup",
                                                           resource_name=names.workgroup_name("quicksight"))]),
            iam.PolicyStatement(actions=["glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables",
                                         "glue:GetPartition", "glue:GetPartitions"],
                                resources=[self.format_arn(service="glue", resource="catalog"),
                                           self.format_arn(service="glue", resource="database",
                                                           resource_name=f"{names.GLUE_DATABASE}*"),
                                           self.format_arn(service="glue", resource="table",
                                                           resource_name=f"{names.GLUE_DATABASE}*/*")]),
        ])
        policy.attach_to_role(role)
        acknowledge(policy, "AwsSolutions-IAM5", "Object-level reads of the silver/gold zones and the QuickSight "
                    "results prefix; catalog wildcard covers the lake and marts databases only.")


def _column(dataset: str, column: str) -> qs.CfnDashboard.ColumnIdentifierProperty:
    return qs.CfnDashboard.ColumnIdentifierProperty(data_set_identifier=dataset, column_name=column)


def _dimension(v: VisualDef, column: str) -> qs.CfnDashboard.DimensionFieldProperty:
    return qs.CfnDashboard.DimensionFieldProperty(categorical_dimension_field=qs.CfnDashboard.
                                                  CategoricalDimensionFieldProperty(
                                                      field_id=f"{v.id}-{column}", column=_column(v.dataset, column)))


def _measure(v: VisualDef, column: str, agg: str) -> qs.CfnDashboard.MeasureFieldProperty:
    if agg in ("COUNT", "DISTINCT_COUNT"):
        return qs.CfnDashboard.MeasureFieldProperty(categorical_measure_field=qs.CfnDashboard.
                                                    CategoricalMeasureFieldProperty(
                                                        field_id=f"{v.id}-{column}-{agg.lower()}",
                                                        column=_column(v.dataset, column), aggregation_function=agg))
    return qs.CfnDashboard.MeasureFieldProperty(numerical_measure_field=qs.CfnDashboard.NumericalMeasureFieldProperty(
        field_id=f"{v.id}-{column}-{agg.lower()}", column=_column(v.dataset, column),
        aggregation_function=qs.CfnDashboard.NumericalAggregationFunctionProperty(simple_numerical_aggregation=agg)))


def _title(v: VisualDef) -> qs.CfnDashboard.VisualTitleLabelOptionsProperty:
    return qs.CfnDashboard.VisualTitleLabelOptionsProperty(
        visibility="VISIBLE", format_text=qs.CfnDashboard.ShortFormatTextProperty(plain_text=v.title))


def _visual(v: VisualDef) -> qs.CfnDashboard.VisualProperty:
    dims = [_dimension(v, c) for c in v.dimensions]
    measures = [_measure(v, c, a) for c, a in v.measures]
    if v.kind == "kpi":
        return qs.CfnDashboard.VisualProperty(kpi_visual=qs.CfnDashboard.KPIVisualProperty(
            visual_id=v.id, title=_title(v), chart_configuration=qs.CfnDashboard.KPIConfigurationProperty(
                field_wells=qs.CfnDashboard.KPIFieldWellsProperty(values=measures))))
    if v.kind == "line":
        return qs.CfnDashboard.VisualProperty(line_chart_visual=qs.CfnDashboard.LineChartVisualProperty(
            visual_id=v.id, title=_title(v), chart_configuration=qs.CfnDashboard.LineChartConfigurationProperty(
                field_wells=qs.CfnDashboard.LineChartFieldWellsProperty(
                    line_chart_aggregated_field_wells=qs.CfnDashboard.LineChartAggregatedFieldWellsProperty(
                        category=dims, values=measures)))))
    if v.kind == "bar":
        return qs.CfnDashboard.VisualProperty(bar_chart_visual=qs.CfnDashboard.BarChartVisualProperty(
            visual_id=v.id, title=_title(v), chart_configuration=qs.CfnDashboard.BarChartConfigurationProperty(
                field_wells=qs.CfnDashboard.BarChartFieldWellsProperty(
                    bar_chart_aggregated_field_wells=qs.CfnDashboard.BarChartAggregatedFieldWellsProperty(
                        category=dims, values=measures)))))
    if v.kind == "pie":
        return qs.CfnDashboard.VisualProperty(pie_chart_visual=qs.CfnDashboard.PieChartVisualProperty(
            visual_id=v.id, title=_title(v), chart_configuration=qs.CfnDashboard.PieChartConfigurationProperty(
                field_wells=qs.CfnDashboard.PieChartFieldWellsProperty(
                    pie_chart_aggregated_field_wells=qs.CfnDashboard.PieChartAggregatedFieldWellsProperty(
                        category=dims, values=measures)))))
    return qs.CfnDashboard.VisualProperty(table_visual=qs.CfnDashboard.TableVisualProperty(
        visual_id=v.id, title=_title(v), chart_configuration=qs.CfnDashboard.TableConfigurationProperty(
            field_wells=qs.CfnDashboard.TableFieldWellsProperty(
                table_aggregated_field_wells=qs.CfnDashboard.TableAggregatedFieldWellsProperty(
                    group_by=dims, values=measures)))))
