"""Glue database + lake tables (partition projection, no crawlers) and per-audience Athena workgroups."""

from __future__ import annotations

from aws_cdk import Aws, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from constructs import Construct

from stacks import names
from stacks.lake import LakeStorage
from stacks.lake_tables import TableSpec, table_specs
from stacks.settings import EnvSettings

_PARQUET = {
    "input": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "output": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "serde": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
}
_JSON = {
    "input": "org.apache.hadoop.mapred.TextInputFormat",
    "output": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
    "serde": "org.openx.data.jsonserde.JsonSerDe",
}


def projection_parameters(spec: TableSpec, location: str) -> dict[str, str]:
    """Athena partition projection: partitions are computed from these rules, never crawled."""
    if not spec.partitions or not all(p.projection for p in spec.partitions):
        return {}
    params = {"projection.enabled": "true"}
    for part in spec.partitions:
        for key, value in part.projection.items():
            params[f"projection.{part.name}.{key}"] = value
    template = "/".join(f"{p.name}=${{{p.name}}}" for p in spec.partitions)
    params["storage.location.template"] = f"{location}{template}/"
    return params


class LakeCatalog(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvSettings, lake: LakeStorage) -> None:
        super().__init__(scope, construct_id)
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=names.GLUE_DATABASE,
                description="Talent marketplace lake: raw, bronze, silver, gold and quarantine tables",
            ),
        )
        self.tables: dict[str, glue.CfnTable] = {}
        for spec in table_specs():
            self.tables[spec.name] = self._table(spec, lake)

        self.workgroups: dict[str, athena.CfnWorkGroup] = {}
        results = lake.buckets["athena-results"]
        for audience in names.ATHENA_AUDIENCES:
            name = names.workgroup_name(audience)
            self.workgroups[audience] = athena.CfnWorkGroup(
                self,
                f"WorkGroup{audience.capitalize()}",
                name=name,
                description=f"Athena for {audience}: enforced settings, KMS results, bytes-scanned cutoff",
                state="ENABLED",
                recursive_delete_option=not settings.retain_data,
                work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                    enforce_work_group_configuration=True,  # clients cannot override output/encryption
                    publish_cloud_watch_metrics_enabled=True,
                    bytes_scanned_cutoff_per_query=int(settings.athena_bytes_cutoff.get(audience, 10 * 1024**3)),
                    requester_pays_enabled=False,
                    engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                        selected_engine_version="Athena engine version 3"
                    ),
                    result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                        output_location=f"s3://{results.bucket_name}/{audience}/",
                        encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                            encryption_option="SSE_KMS", kms_key=lake.key.key_arn
                        ),
                        expected_bucket_owner=Aws.ACCOUNT_ID,
                    ),
                ),
            )

    def _table(self, spec: TableSpec, lake: LakeStorage) -> glue.CfnTable:
        bucket = lake.buckets[spec.zone]
        location = f"s3://{bucket.bucket_name}/{spec.path}/"
        formats = _JSON if spec.data_format == "json" else _PARQUET
        parameters = {"classification": spec.data_format, "EXTERNAL": "TRUE",
                      **projection_parameters(spec, location)}
        if spec.data_format == "parquet":
            parameters["parquet.compression"] = "SNAPPY"
        logical = "Table" + "".join(part.capitalize() for part in spec.name.split("_"))
        table = glue.CfnTable(
            self,
            logical,
            catalog_id=Aws.ACCOUNT_ID,
            database_name=names.GLUE_DATABASE,
            table_input=glue.CfnTable.TableInputProperty(
                name=spec.name,
                description=spec.description or None,
                table_type="EXTERNAL_TABLE",
                parameters=parameters,
                partition_keys=[glue.CfnTable.ColumnProperty(name=p.name, type=p.type) for p in spec.partitions],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=location,
                    input_format=formats["input"],
                    output_format=formats["output"],
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library=formats["serde"],
                        parameters={"ignore.malformed.json": "true"} if spec.data_format == "json" else None,
                    ),
                    columns=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in spec.columns],
                ),
            ),
        )
        table.node.add_dependency(self.database)
        return table


def glue_table_arn(scope: Construct, table: str = "*") -> str:
    stack = Stack.of(scope)
    return stack.format_arn(service="glue", resource="table", resource_name=f"{names.GLUE_DATABASE}/{table}")
