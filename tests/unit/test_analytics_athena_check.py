"""The offline Athena check catches DuckDB-only SQL and accepts Trino SQL."""

from __future__ import annotations

import pytest

from analytics.athena_check import check_sql

pytestmark = pytest.mark.unit


def test_trino_sql_passes():
    sql = (
        "select element_at(a, 1), approx_percentile(x, 0.5), date_diff('second', t0, t1), split_part(c, '.', 1) "
        "from t cross join unnest(t.arr) with ordinality as u (v, pos)"
    )
    assert check_sql(sql) == []


@pytest.mark.parametrize("sql, problem", [
    ("select median(x) from t", "DuckDB-only function median()"),
    ("select list_extract(a, 1) from t", "DuckDB-only function list_extract()"),
    ("select frobnicate(x) from t", "function frobnicate() unknown to the Trino dialect"),
])
def test_non_trino_functions_are_reported(sql, problem):
    assert problem in check_sql(sql)


def test_unparsable_sql_is_reported():
    (problem,) = check_sql("select from where")
    assert problem.startswith("does not parse as Trino")
