"""QuickSight over the dbt marts: Athena data source, custom-SQL datasets and a dashboard.

Generated from analytics/quicksight_spec.py (the analytics engineer's dependency-free description of
datasets and visuals), so the local HTML dashboard and QuickSight show the same things. Any object
with DATASETS and DASHBOARD attributes works (the tests use a small stand-in). QuickSight needs an
account subscription and the principal (user/group) that may see the assets; see infra/README.md.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_quicksight as qs
from constructs import Construct

from analytics.quicksight_spec import ATHENA_MARTS_SCHEMA
from stacks import names
from stacks.compliance import acknowledge_all, wildcard_resources
from stacks.orchestration import DBT_DATA_PREFIX
from stacks.quicksight_definition import AGGREGATIONS, DefinitionBuilder, slug
from stacks.settings import EnvSettings

QS_SERVICE_ROLE = "aws-quicksight-service-role-v0"
# dbt's marts schema in Athena (analytics/quicksight_spec.py queries it): its tables are all QuickSight reads.
MARTS_SCHEMA = ATHENA_MARTS_SCHEMA
QS_TYPES = ("STRING", "INTEGER", "DECIMAL", "DATETIME", "BOOLEAN")
VISUAL_KINDS = ("kpi", "bar", "line", "table")
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
                if "aggregation" in m and m["aggregation"] not in AGGREGATIONS:
                    raise SpecError(f"{where}: unsupported aggregation {m['aggregation']!r}")
            unknown = [c for c in used if c and c not in columns]
            if unknown:
                raise SpecError(f"{where}: columns {unknown} are not in dataset {v['dataset']}")


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
                data_set_id=f"{prefix}-{slug(ds['id'])}",
                name=ds["name"],
                import_mode="DIRECT_QUERY",  # marts are small and rebuilt nightly: no SPICE refresh to schedule
                physical_table_map={slug(ds["id"]): qs.CfnDataSet.PhysicalTableProperty(
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
                dashboard_id=f"{prefix}-{slug(board['id'])}",
                name=f"{board['title']} ({settings.name})",
                definition=DefinitionBuilder(board, self.datasets, self.column_types).build(),
                permissions=[qs.CfnDashboard.ResourcePermissionProperty(principal=principal,
                                                                        actions=_DASHBOARD_ACTIONS)],
                version_description=board.get("description") or None,
            )

    def _grant_quicksight_role(self, settings: EnvSettings) -> None:
        """QuickSight's service role queries the marts through Athena — and nothing else of the lake.

        The marts are dbt tables (no PII) under `<gold>/warehouse/<marts schema>/` in the marts Glue
        database; silver and the rest of gold (profiles, `profile_texts` with the resume texts) are
        neither readable nor listable. ARNs are rebuilt from the deterministic names (and the key
        from its alias) instead of importing them from the platform stack, so the two stacks can be
        deployed and changed independently.
        """
        role = iam.Role.from_role_name(self, "QuickSightServiceRole", QS_SERVICE_ROLE)
        gold = f"arn:{self.partition}:s3:::{names.bucket_name(settings.name, 'gold')}"
        results = f"arn:{self.partition}:s3:::{names.bucket_name(settings.name, 'athena-results')}"
        marts_prefix = f"{DBT_DATA_PREFIX}/{MARTS_SCHEMA}/"
        catalog = [self.format_arn(service="glue", resource="catalog"),
                   self.format_arn(service="glue", resource="database", resource_name=MARTS_SCHEMA),
                   self.format_arn(service="glue", resource="table", resource_name=f"{MARTS_SCHEMA}/*")]
        self.quicksight_policy = iam.Policy(self, "QuickSightLakeAccess", statements=[
            iam.PolicyStatement(sid="ReadMartsOnly", actions=["s3:GetObject"], resources=[
                f"{gold}/{marts_prefix}*", f"{results}/quicksight/*"]),
            iam.PolicyStatement(actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                                resources=[f"{results}/quicksight/*"]),
            iam.PolicyStatement(sid="ListMartsOnly", actions=["s3:ListBucket"], resources=[gold],
                                conditions={"StringLike": {"s3:prefix": [f"{marts_prefix}*"]}}),
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[results],
                                conditions={"StringLike": {"s3:prefix": ["quicksight/*"]}}),
            iam.PolicyStatement(actions=["s3:GetBucketLocation"], resources=[gold, results]),
            iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"],
                                resources=[self.format_arn(service="kms", resource="key", resource_name="*")],
                                conditions={"ForAnyValue:StringEquals": {
                                    "kms:ResourceAliases": f"alias/marketplace-{settings.name}-lake"}}),
            iam.PolicyStatement(actions=["athena:StartQueryExecution", "athena:GetQueryExecution",
                                         "athena:GetQueryResults", "athena:GetWorkGroup"],
                                resources=[self.format_arn(service="athena", resource="workgroup",
                                                           resource_name=names.workgroup_name("quicksight"))]),
            iam.PolicyStatement(sid="MartsCatalogOnly",
                                actions=["glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables",
                                         "glue:GetPartition", "glue:GetPartitions"], resources=catalog),
        ])
        self.quicksight_policy.attach_to_role(role)
        prefix = f"arn:<AWS::Partition>:s3:::marketplace-{settings.name}-<AWS::AccountId>"
        acknowledge_all(self.quicksight_policy, wildcard_resources(
            f"{prefix}-gold/{marts_prefix}*", f"{prefix}-athena-results/quicksight/*",
            "arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*",
            f"arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/{MARTS_SCHEMA}/*",
        ), "QuickSight reads only the dbt marts' objects (no PII) through Athena and writes only its own results "
           "prefix; the key wildcard is narrowed by a kms:ResourceAliases condition to the lake key; catalog "
           "access is read-only and limited to the marts database's tables.")
