"""Small lake I/O helpers shared by the gold-side Spark jobs (profiles, embed, match, gate, publish).

Every URI comes from the configuration seam (``settings.table_uri``), so the same code reads a local
directory or an S3 bucket. Missing tables read as empty DataFrames with the expected columns: a stage
with nothing to do reports zero counts instead of crashing.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from common.config import get_settings

log = logging.getLogger(__name__)

_RUN_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check_run_date(run_date: str) -> str:
    """Validate a YYYY-MM-DD run date and return it; a bad one is a clear error, not a Spark failure."""
    if not isinstance(run_date, str) or not _RUN_DATE.match(run_date):
        raise ValueError(f"run_date must be YYYY-MM-DD, got {run_date!r}")
    dt.date.fromisoformat(run_date)
    return run_date


def table_uri(zone: str, table: str) -> str:
    return get_settings().table_uri(zone, table)


def path_exists(spark, uri: str) -> bool:
    """True when ``uri`` (local dir or s3://) exists, asked through Hadoop's FileSystem like Spark does."""
    jvm = spark._jvm
    conf = spark._jsc.hadoopConfiguration()
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return bool(path.getFileSystem(conf).exists(path))


def read_table(spark, uri: str, schema_ddl: str | None = None):
    """Read a Parquet table; when it does not exist yet, an empty DataFrame of ``schema_ddl``."""
    if path_exists(spark, uri):
        try:
            return spark.read.option("mergeSchema", "true").parquet(uri)
        except Exception as exc:  # an existing but empty directory has no schema to infer
            if "UNABLE_TO_INFER_SCHEMA" not in str(exc) or schema_ddl is None:
                raise
    if schema_ddl is None:
        raise FileNotFoundError(f"table {uri} does not exist")
    log.info("table %s does not exist yet: reading it as empty", uri)
    return spark.createDataFrame([], schema_ddl)


def ensure_columns(df, columns: dict[str, str]):
    """Add every missing column of ``columns`` (name → Spark SQL type) as typed nulls."""
    from pyspark.sql import functions as F

    for name, sql_type in columns.items():
        if name not in df.columns:
            df = df.withColumn(name, F.lit(None).cast(sql_type))
    return df


def write_partitions(df, uri: str, partition_by: list[str]) -> None:
    """Idempotent write: replace exactly the partitions present in ``df`` (dynamic overwrite)."""
    (
        df.write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .partitionBy(*partition_by)
        .parquet(uri)
    )


def utc_now():
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


PROFILE_TABLES = {"candidate": "candidate_profiles", "job": "job_profiles"}
ID_COLUMNS = {"candidate": "candidate_id", "job": "job_id"}


def read_profiles(spark, side: str, run_date: str):
    """The snapshot of `gold/<side>_profiles` built for ``run_date`` (empty when none was built)."""
    from pyspark.sql import functions as F

    from spark_jobs.build_profiles import PROFILE_DDL

    uri = table_uri("gold", PROFILE_TABLES[side])
    df = read_table(spark, uri, f"{PROFILE_DDL[side]}, run_date string")
    return df.where(F.col("run_date").cast("string") == run_date)


def delete_path(spark, uri: str) -> bool:
    """Remove a partition directory (used when a re-run leaves a partition empty)."""
    jvm = spark._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(spark._jsc.hadoopConfiguration())
    return bool(fs.exists(path) and fs.delete(path, True))


def replace_partition(
    df, uri: str, partition_by: list[str], partition_values: dict[str, str], rows: int
) -> None:
    """Write ``df`` over its partitions; with no rows, delete the partition so a re-run leaves no stale data."""
    if rows:
        write_partitions(df, uri, partition_by)
        return
    suffix = "/".join(f"{k}={partition_values[k]}" for k in partition_by)
    delete_path(df.sparkSession, f"{uri}/{suffix}")
