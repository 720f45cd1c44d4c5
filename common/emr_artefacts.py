"""How an EMR Serverless job run uses the artefacts of `make package-spark` — one home for both sides.

``spark_jobs/package.py`` builds and describes the artefacts (its manifest prints these parameters);
``dags/_platform/emr.py`` puts them into every StartJobRun. Plain stdlib: MWAA syncs ``common/`` beside
the DAGs, not ``spark_jobs/``.

- ``code.zip`` is unpacked as ``./code`` on the driver and every executor (``spark.archives=…#code``) and
  put on ``PYTHONPATH``: the matching library reads its bundled data from disk, which a ``--py-files`` zip
  is not (executors would import from the zip and fail to open the ESCO files);
- ``pyspark_deps.tar.gz`` (optional) is the relocatable venv, unpacked as ``./environment``;
- the configuration seam's variables are set for the driver and the executors alike, so both build the
  same ``common.config.Settings`` (executors open lake files and DynamoDB clients themselves).
"""

from __future__ import annotations

# What code.zip holds: the Spark stages and what they import. Other stages (analytics.*: dbt, the dashboard)
# are not EMR jobs; in AWS the Airflow worker runs them (dags/_platform/tasks.py).
CODE_PACKAGES = ("common", "ingestion", "matching", "spark_jobs")
CODE_ARCHIVE = "code.zip"
ENTRYPOINT = "entrypoint.py"
DEPS_ARCHIVE = "pyspark_deps.tar.gz"
ENV_PYTHON = "./environment/bin/python"


def runs_on_emr(module: str) -> bool:
    """True when ``module`` ships in code.zip, so an EMR job run can import it."""
    return module.split(".", 1)[0] in CODE_PACKAGES


def spark_submit_parameters(artefacts_uri: str, deps_uri: str | None, environment: dict[str, str]) -> str:
    """``sparkSubmitParameters`` for a job run of the artefacts under ``artefacts_uri``."""
    archives = [f"{artefacts_uri}/{CODE_ARCHIVE}#code"] + ([f"{deps_uri}#environment"] if deps_uri else [])
    conf = {
        "spark.archives": ",".join(archives),
        "spark.emr-serverless.driverEnv.PYTHONPATH": "./code",
        "spark.executorEnv.PYTHONPATH": "./code",
    }
    if deps_uri:
        conf.update({
            "spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON": ENV_PYTHON,
            "spark.emr-serverless.driverEnv.PYSPARK_PYTHON": ENV_PYTHON,
            "spark.executorEnv.PYSPARK_PYTHON": ENV_PYTHON,
        })
    conf.update({
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.executorEnv.OPENBLAS_NUM_THREADS": "1",
    })
    for name, value in environment.items():
        if any(ch.isspace() for ch in str(value)):
            raise ValueError(f"{name}={value!r}: sparkSubmitParameters are split on whitespace")
        conf[f"spark.emr-serverless.driverEnv.{name}"] = str(value)
        conf[f"spark.executorEnv.{name}"] = str(value)
    return " ".join(f"--conf {key}={value}" for key, value in conf.items())
