"""Profiles reconcile against silver: every entity silver knows on the run date is accounted for.

build_profiles checks ``seen = profiled + quarantined + without resume`` from its own counters, which add up
by construction. This check measures both sides apart: the (tenant, id) keys in the silver tables up to the
run date against the keys in the run date's gold profiles and documents quarantine. For the quality gate
(write-audit-publish): a candidate or job that silver has and the profiles silently dropped — or a profile
of an entity silver does not know — must block publish.

``unaccounted`` is a pure DataFrame → DataFrame function; ``reconcile_profiles`` reads the tables.
"""

from __future__ import annotations

from common.config import get_settings
from spark_jobs._lake import read_table

KEY = ["tenant_id", "entity_id"]
SIDES = {  # side -> (id column, silver tables that name the entity)
    "candidate": ("candidate_id", ("candidate_registered", "resume_uploaded")),
    "job": ("job_id", ("job_posted",)),
}


def keys(df, id_column: str):
    """Distinct (tenant_id, entity_id) of a table with ``id_column``."""
    from pyspark.sql import functions as F

    return df.select("tenant_id", F.col(id_column).alias("entity_id")).where("entity_id IS NOT NULL").distinct()


def unaccounted(expected, *accounted):
    """Keys of ``expected`` found in none of ``accounted`` (each a DataFrame of tenant_id, entity_id)."""
    found = accounted[0]
    for more in accounted[1:]:
        found = found.unionByName(more)
    return expected.join(found.distinct(), KEY, "left_anti")


def _silver_keys(spark, run_date: str, table: str, id_column: str):
    from pyspark.sql import functions as F

    ddl = f"tenant_id string, {id_column} string, dt string"
    df = read_table(spark, get_settings().table_uri("silver", table), ddl)
    return keys(df.where(F.col("dt").cast("string") <= run_date), id_column)


def reconcile_profiles(spark, run_date: str, examples: int = 5) -> dict:
    """Counts of silver entities missing from the run's profiles + quarantine, and of profiles silver lacks."""
    from pyspark.sql import functions as F

    settings = get_settings()
    quarantine = read_table(spark, settings.table_uri("quarantine", "documents"),
                            "tenant_id string, entity_type string, entity_id string, dt string")
    quarantine = quarantine.where(F.col("dt").cast("string") == run_date)
    out: dict = {"run_date": run_date}
    for side, (id_column, tables) in SIDES.items():
        by_table = {table: _silver_keys(spark, run_date, table, id_column) for table in tables}
        in_silver = by_table[tables[0]]
        for table in tables[1:]:
            in_silver = in_silver.unionByName(by_table[table]).distinct()
        profiles = read_table(spark, settings.table_uri("gold", f"{side}_profiles"),
                              f"tenant_id string, {id_column} string, run_date string")
        profiled = keys(profiles.where(F.col("run_date").cast("string") == run_date), id_column)
        quarantined = keys(quarantine.where(F.col("entity_type") == side), "entity_id")
        accounted = [profiled, quarantined]
        if side == "candidate":  # registered, never uploaded a resume: no profile, by design
            accounted.append(unaccounted(by_table["candidate_registered"], by_table["resume_uploaded"]))
        missing = unaccounted(in_silver, *accounted)
        unknown = unaccounted(profiled, in_silver)
        out[f"{side}s_in_silver"] = in_silver.count()
        out[f"{side}s_missing"] = missing.count()
        out[f"{side}_profiles_not_in_silver"] = unknown.count()
        out[f"{side}s_missing_examples"] = [f"{r.tenant_id}/{r.entity_id}" for r in missing.limit(examples).collect()]
    out["reconciled"] = not any(out[f"{side}s_missing"] or out[f"{side}_profiles_not_in_silver"] for side in SIDES)
    return out
