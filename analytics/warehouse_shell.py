"""A tiny read-only SQL prompt on the local DuckDB warehouse (``make warehouse-shell``).

Marts are tables in schema ``main_marts`` (e.g. ``select * from main_marts.fct_hiring_funnel``);
``-c "<sql>"`` runs one statement and exits. Type ``.tables`` to list every relation, ``.quit`` to leave.
"""

from __future__ import annotations

import argparse
import sys

from common.config import get_settings

LIST_TABLES = (
    "select table_schema, table_name, table_type from information_schema.tables "
    "where table_schema not in ('information_schema', 'pg_catalog') order by 1, 2"
)


def run(sql: str, con) -> None:
    try:
        con.sql(sql).show(max_rows=50, max_width=200)
    except Exception as exc:  # noqa: BLE001 - an interactive prompt reports and carries on
        print(f"error: {exc}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    import duckdb

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--command", help="run one SQL statement and exit")
    args = parser.parse_args(argv)
    path = get_settings().warehouse_path
    if path is None or not path.exists():
        raise SystemExit(f"no warehouse at {path}; run `make dbt-build` (or `make run`) first")
    with duckdb.connect(str(path), read_only=True) as con:
        if args.command:
            run(args.command, con)
            return
        print(f"warehouse {path} (read-only). Marts: main_marts.<name>. '.tables' lists, '.quit' exits.")
        buffer = ""
        while True:
            try:
                line = input("sql> " if not buffer else "...> ")
            except EOFError:
                break
            if line.strip() in (".quit", ".exit"):
                break
            if line.strip() == ".tables":
                run(LIST_TABLES, con)
                continue
            buffer += line + "\n"
            if buffer.rstrip().endswith(";"):
                run(buffer, con)
                buffer = ""


if __name__ == "__main__":
    main()
