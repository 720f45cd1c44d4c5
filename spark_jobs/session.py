"""The one SparkSession builder: local[*] on a laptop, EMR Serverless' own master in AWS."""

from __future__ import annotations

import os

from common.config import get_settings


def get_spark(app_name: str, master: str | None = None, shuffle_partitions: int | None = None):
    """Build (or reuse) the SparkSession for ``app_name``.

    ``master`` overrides the configured one (tests pass ``local[1]``). In AWS the master is None and
    EMR Serverless supplies it.
    """
    from pyspark.sql import SparkSession

    settings = get_settings()
    master = master or settings.spark_master
    if master:
        require_java()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", os.environ.get("PYSPARK_PYTHON") or _current_python())
    builder = SparkSession.builder.appName(app_name)
    if master:
        cores = 1 if master == "local[1]" else (os.cpu_count() or 2)
        builder = (
            builder.master(master)
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", str(shuffle_partitions or max(2, cores * 2)))
            .config("spark.driver.memory", os.environ.get("SPARK_DRIVER_MEMORY", "4g"))
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            # Each Python worker gets one BLAS thread; Spark already runs one task per core.
            .config("spark.executorEnv.OPENBLAS_NUM_THREADS", "1")
            .config("spark.executorEnv.OMP_NUM_THREADS", "1")
        )
    else:
        builder = builder.config("spark.sql.session.timeZone", "UTC").config(
            "spark.sql.sources.partitionOverwriteMode", "dynamic"
        )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("SPARK_LOG_LEVEL", "WARN"))
    return spark


def stop_spark() -> None:
    """Stop the active SparkSession and its local JVM, and wait for the JVM to exit.

    ``SparkSession.stop()`` leaves the py4j gateway's JVM running until this interpreter exits, and it
    takes a moment more to go: long enough for a leftovers check run right after (scripts/run_tests.sh)
    to find it alive. A no-op when no gateway was started (EMR, or nothing ran)."""
    import subprocess

    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
    gateway = SparkContext._gateway
    if gateway is None:
        return
    proc = getattr(gateway, "proc", None)
    gateway.shutdown()
    SparkContext._gateway = SparkContext._jvm = None
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _current_python() -> str:
    import sys

    return sys.executable


def require_java() -> None:
    """Fail early with the fix, instead of a py4j stack trace, when no Java runtime is on the machine."""
    import shutil

    from common.config import ConfigError

    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (
        java_home and os.path.exists(os.path.join(java_home, "bin", "java"))
    ):
        raise ConfigError(
            "Spark needs Java 17 and none was found on PATH or JAVA_HOME. "
            "Install it (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME."
        )
