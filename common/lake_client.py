"""The one small pandas client for the warehouse and the lake.

Locally the lake is a directory of Parquet datasets and the warehouse is a DuckDB file; in AWS the
lake is S3 + the Glue catalog, the warehouse is Athena and DynamoDB is real. Which backend is used
is decided only by ``common.config.get_settings()`` (``settings.env``); callers just ask for
``get_lake_client()`` and use ``query`` / ``read_table`` / ``write_table`` / ``read_dynamodb``.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import pandas as pd

from common.config import ConfigError, Settings, get_settings

log = logging.getLogger(__name__)

WRITE_MODES = ("overwrite", "append", "overwrite_partitions")


class LakeClientError(RuntimeError):
    """A lake/warehouse request was invalid (unknown mode, missing table, …)."""


def _check_mode(mode: str, partition_cols: list[str] | None) -> None:
    if mode not in WRITE_MODES:
        raise LakeClientError(f"write mode {mode!r} is not one of {WRITE_MODES}")
    if mode == "overwrite_partitions" and not partition_cols:
        raise LakeClientError("mode='overwrite_partitions' needs partition_cols")


class LakeClient(ABC):
    """Reads and writes of the lake and the warehouse as pandas DataFrames."""

    def __init__(self, settings: Settings):
        self.settings = settings

    @abstractmethod
    def query(self, sql: str) -> pd.DataFrame:
        """Run SQL against the warehouse (DuckDB locally, Athena in AWS)."""

    @abstractmethod
    def read_table(self, zone: str, table: str, columns: list[str] | None = None) -> pd.DataFrame:
        """Read a whole lake table (a Parquet dataset, Hive partitions become columns)."""

    @abstractmethod
    def write_table(
        self,
        df: pd.DataFrame,
        zone: str,
        table: str,
        partition_cols: list[str] | None = None,
        mode: str = "overwrite",
    ) -> str:
        """Write a Parquet dataset; returns its URI. ``overwrite_partitions`` replaces only the
        partitions present in ``df`` (idempotent re-runs of one partition)."""

    @abstractmethod
    def read_dynamodb(self, table_name: str | None = None, **scan_kwargs: Any) -> pd.DataFrame:
        """Scan a DynamoDB table (default: the serving table) into a DataFrame."""

    def table_exists(self, zone: str, table: str) -> bool:
        """True when the table holds at least one Parquet file."""
        raise NotImplementedError

    def register_partitions(self, table: str, partitions: list[dict[str, str]]) -> int:
        """Make newly written partitions of ``table`` visible to the warehouse; returns how many were added.

        For tables whose partitions no projection can express (``matches``/``match_runs`` by ``run_id``):
        Athena and dbt read only registered partitions. Locally the warehouse reads the directories."""
        return 0


class LocalLakeClient(LakeClient):
    """Local Parquet directories + the DuckDB warehouse file + DynamoDB on dynalite."""

    def _connect(self, read_only: bool):
        import duckdb

        path = self.settings.warehouse_path
        if path is None:
            raise ConfigError("local settings have no warehouse_path")
        if read_only and not Path(path).exists():
            raise LakeClientError(f"warehouse {path} does not exist yet; run `make dbt-build` first")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return duckdb.connect(str(path), read_only=read_only)

    def query(self, sql: str) -> pd.DataFrame:
        with self._connect(read_only=True) as con:
            return con.sql(sql).df()

    def table_exists(self, zone: str, table: str) -> bool:
        root = Path(self.settings.table_uri(zone, table))
        return root.is_dir() and any(root.rglob("*.parquet"))

    def read_table(self, zone: str, table: str, columns: list[str] | None = None) -> pd.DataFrame:
        import pyarrow.dataset as ds

        uri = self.settings.table_uri(zone, table)
        if not self.table_exists(zone, table):
            raise LakeClientError(f"table {zone}/{table} has no Parquet files at {uri}")
        dataset = ds.dataset(uri, format="parquet", partitioning="hive")
        return dataset.to_table(columns=columns).to_pandas()

    def write_table(self, df, zone, table, partition_cols=None, mode="overwrite") -> str:
        import pyarrow as pa
        import pyarrow.parquet as pq

        _check_mode(mode, partition_cols)
        uri = self.settings.table_uri(zone, table)
        root = Path(uri)
        if mode == "overwrite" and root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True, exist_ok=True)
        arrow = pa.Table.from_pandas(df, preserve_index=False)
        behaviour = "delete_matching" if mode == "overwrite_partitions" else "overwrite_or_ignore"
        # A fixed basename per partition makes re-runs replace files instead of piling them up;
        # appends get a unique one so they never clobber earlier files.
        basename = f"part-{uuid.uuid4().hex[:12]}-{{i}}.parquet" if mode == "append" else "part-{i}.parquet"
        pq.write_to_dataset(
            arrow,
            root_path=uri,
            partition_cols=partition_cols or None,
            existing_data_behavior=behaviour,
            basename_template=basename,
        )
        log.info("wrote %d rows to %s (%s)", len(df), uri, mode)
        return uri

    def read_dynamodb(self, table_name=None, **scan_kwargs) -> pd.DataFrame:
        from boto3.dynamodb.types import TypeDeserializer

        from common.aws import client

        deserialize = TypeDeserializer().deserialize
        paginator = client("dynamodb").get_paginator("scan")
        rows = []
        for page in paginator.paginate(TableName=table_name or self.settings.dynamodb_table, **scan_kwargs):
            rows.extend({k: deserialize(v) for k, v in item.items()} for item in page.get("Items", []))
        return pd.DataFrame(rows)


class AwsLakeClient(LakeClient):
    """S3 Parquet datasets registered in Glue, Athena queries and DynamoDB, via awswrangler."""

    def __init__(self, settings: Settings):
        super().__init__(settings)
        import awswrangler as wr

        self._wr = wr
        # Endpoints are empty in real AWS; a test may point them at a stand-in.
        for service, attribute in (("s3", "s3_endpoint_url"), ("athena", "athena_endpoint_url"),
                                   ("glue", "glue_endpoint_url"), ("dynamodb", "dynamodb_endpoint_url")):
            if settings.endpoints.get(service):
                setattr(wr.config, attribute, settings.endpoints[service])

    def _session(self):
        import boto3

        kwargs = self.settings.boto3_kwargs("s3")
        return boto3.Session(
            region_name=kwargs["region_name"],
            aws_access_key_id=kwargs.get("aws_access_key_id"),
            aws_secret_access_key=kwargs.get("aws_secret_access_key"),
        )

    def query(self, sql: str) -> pd.DataFrame:
        return self._wr.athena.read_sql_query(
            sql,
            database=self.settings.glue_database,
            workgroup=self.settings.athena_workgroup,
            ctas_approach=False,
            boto3_session=self._session(),
        )

    def table_exists(self, zone: str, table: str) -> bool:
        return bool(self._wr.s3.list_objects(self.settings.table_uri(zone, table) + "/",
                                             suffix=".parquet", boto3_session=self._session()))

    def read_table(self, zone, table, columns=None) -> pd.DataFrame:
        uri = self.settings.table_uri(zone, table) + "/"
        if not self.table_exists(zone, table):
            raise LakeClientError(f"table {zone}/{table} has no Parquet files at {uri}")
        return self._wr.s3.read_parquet(uri, dataset=True, columns=columns, boto3_session=self._session())

    def write_table(self, df, zone, table, partition_cols=None, mode="overwrite") -> str:
        _check_mode(mode, partition_cols)
        uri = self.settings.table_uri(zone, table) + "/"
        self._wr.s3.to_parquet(
            df,
            path=uri,
            dataset=True,
            mode=mode,
            partition_cols=partition_cols,
            boto3_session=self._session(),
        )
        log.info("wrote %d rows to %s (%s)", len(df), uri, mode)
        return uri

    def register_partitions(self, table, partitions) -> int:
        """Glue BatchCreatePartition with the table's own storage descriptor (already registered → kept)."""
        from common.aws import client

        glue = client("glue")
        definition = glue.get_table(DatabaseName=self.settings.glue_database, Name=table)["Table"]
        keys = [k["Name"] for k in definition.get("PartitionKeys", [])]
        location = definition["StorageDescriptor"]["Location"].rstrip("/")
        inputs = []
        for partition in partitions:
            if set(partition) != set(keys):
                raise LakeClientError(f"{table} is partitioned by {keys}, got {sorted(partition)}")
            suffix = "/".join(f"{k}={partition[k]}" for k in keys)
            descriptor = {**definition["StorageDescriptor"], "Location": f"{location}/{suffix}/"}
            inputs.append({"Values": [partition[k] for k in keys], "StorageDescriptor": descriptor})
        added = 0
        for start in range(0, len(inputs), 100):  # the API's batch limit
            chunk = inputs[start : start + 100]
            errors = glue.batch_create_partition(DatabaseName=self.settings.glue_database, TableName=table,
                                                 PartitionInputList=chunk).get("Errors", [])
            failed = [e for e in errors if e["ErrorDetail"]["ErrorCode"] != "AlreadyExistsException"]
            if failed:
                raise LakeClientError(f"Glue refused partitions of {table}: {failed[:3]}")
            added += len(chunk) - len(errors)
        log.info("registered %d new partition(s) of %s in Glue", added, table)
        return added

    def read_dynamodb(self, table_name=None, **scan_kwargs) -> pd.DataFrame:
        return self._wr.dynamodb.read_items(
            table_name=table_name or self.settings.dynamodb_table,
            allow_full_scan=True,
            boto3_session=self._session(),
            **scan_kwargs,
        )


_BACKENDS: dict[str, type[LakeClient]] = {"local": LocalLakeClient, "aws": AwsLakeClient}


def get_lake_client(settings: Settings | None = None) -> LakeClient:
    """The client for the configured environment (``settings.env``)."""
    settings = settings or get_settings()
    try:
        backend = _BACKENDS[settings.env]
    except KeyError as exc:  # pragma: no cover - config validates env already
        raise ConfigError(f"no lake client for environment {settings.env!r}") from exc
    return backend(settings)
