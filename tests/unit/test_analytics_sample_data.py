"""The analytics fixture lake is deterministic, contract-shaped and tenant-consistent."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.sample_data import SampleSpec, build_sample, write_sample_lake

pytestmark = pytest.mark.unit
SMALL = SampleSpec(candidates_per_tenant=12, jobs_per_tenant=5, days=14)
ENVELOPE = {"event_id", "event_type", "schema_version", "occurred_at", "tenant_id", "producer", "_ingested_at", "dt"}


def test_same_seed_same_lake():
    first, second = build_sample(SMALL), build_sample(SMALL)
    assert first.keys() == second.keys()
    for key in first:
        pd.testing.assert_frame_equal(first[key], second[key])


def test_contract_columns_present():
    tables = build_sample(SMALL)
    for (zone, table), frame in tables.items():
        if zone == "silver":
            assert ENVELOPE <= set(frame.columns), table
            assert (frame["event_type"] == table).all()
    assert {"self_reported_opt_in", "email"} <= set(tables[("silver", "candidate_registered")].columns)
    assert {"run_id", "rank", "score", "direction"} <= set(tables[("gold", "matches")].columns)


def test_no_cross_tenant_references():
    tables = build_sample(SMALL)
    matches = tables[("gold", "matches")]
    cand_tenant = tables[("gold", "candidate_profiles")].set_index("candidate_id")["tenant_id"]
    job_tenant = tables[("gold", "job_profiles")].set_index("job_id")["tenant_id"]
    assert (matches["candidate_id"].map(cand_tenant) == matches["tenant_id"]).all()
    assert (matches["job_id"].map(job_tenant) == matches["tenant_id"]).all()


def test_without_clicks_the_table_is_absent(isolated_settings):
    counts = write_sample_lake(SampleSpec(candidates_per_tenant=8, jobs_per_tenant=4, include_clicks=False))
    assert "silver.match_clicked" not in counts
    assert counts["silver.application_submitted"] > 0
