"""The lake client: local Parquet round trips, partition overwrite, clear errors, backend choice."""

from __future__ import annotations

import pandas as pd
import pytest

from common.config import Settings
from common.lake_client import AwsLakeClient, LakeClientError, LocalLakeClient, get_lake_client

pytestmark = pytest.mark.unit


@pytest.fixture()
def lake_settings(isolated_settings, tmp_path, monkeypatch):
    """isolated_settings with the warehouse in the temp dir too (WAREHOUSE_PATH may be set globally)."""
    from common.config import get_settings, reset_settings_cache

    monkeypatch.setenv("WAREHOUSE_PATH", str(tmp_path / "state" / "warehouse.duckdb"))
    reset_settings_cache()
    return get_settings()


def _frame(dt: str, values: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"tenant_id": ["t"] * len(values), "value": values, "dt": [dt] * len(values)})


def test_local_backend_is_chosen_from_settings(lake_settings):
    assert isinstance(get_lake_client(), LocalLakeClient)


def test_aws_backend_is_chosen_for_aws_settings():
    settings = Settings(env="aws", region="us-east-1", lake_root="prefix", local_state_dir=None)  # type: ignore[arg-type]
    assert isinstance(get_lake_client(settings), AwsLakeClient)


def test_round_trip_with_hive_partitions(lake_settings):
    client = get_lake_client()
    client.write_table(_frame("2026-11-01", [1, 2]), "silver", "demo", partition_cols=["dt"])
    back = client.read_table("silver", "demo")
    assert sorted(back["value"].tolist()) == [1, 2]
    assert set(back["dt"].astype(str)) == {"2026-11-01"}


def test_overwrite_partitions_replaces_only_the_partitions_written(lake_settings):
    client = get_lake_client()
    client.write_table(_frame("2026-11-01", [1]), "silver", "demo", partition_cols=["dt"])
    client.write_table(_frame("2026-11-02", [2]), "silver", "demo", partition_cols=["dt"], mode="append")
    client.write_table(_frame("2026-11-02", [3, 4]), "silver", "demo", partition_cols=["dt"],
                       mode="overwrite_partitions")
    back = client.read_table("silver", "demo").sort_values("value")
    assert back["value"].tolist() == [1, 3, 4]
    # idempotent: the same write again changes nothing
    client.write_table(_frame("2026-11-02", [3, 4]), "silver", "demo", partition_cols=["dt"],
                       mode="overwrite_partitions")
    assert sorted(client.read_table("silver", "demo")["value"].tolist()) == [1, 3, 4]


def test_overwrite_replaces_the_whole_table(lake_settings):
    client = get_lake_client()
    client.write_table(_frame("2026-11-01", [1]), "silver", "demo", partition_cols=["dt"])
    client.write_table(_frame("2026-11-02", [2]), "silver", "demo", partition_cols=["dt"], mode="overwrite")
    assert client.read_table("silver", "demo")["value"].tolist() == [2]


def test_clear_errors(lake_settings):
    client = get_lake_client()
    with pytest.raises(LakeClientError, match="no Parquet files"):
        client.read_table("silver", "missing")
    with pytest.raises(LakeClientError, match="write mode"):
        client.write_table(_frame("2026-11-01", [1]), "silver", "demo", mode="upsert")
    with pytest.raises(LakeClientError, match="needs partition_cols"):
        client.write_table(_frame("2026-11-01", [1]), "silver", "demo", mode="overwrite_partitions")
    with pytest.raises(LakeClientError, match="does not exist yet"):
        client.query("select 1")


def test_query_reads_the_warehouse(lake_settings):
    import duckdb

    lake_settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(lake_settings.warehouse_path)) as con:
        con.execute("create schema main_marts; create table main_marts.m as select 42 as answer")
    assert get_lake_client().query("select answer from main_marts.m")["answer"].tolist() == [42]
