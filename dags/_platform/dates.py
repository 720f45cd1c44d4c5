"""Date helpers for data-interval keyed runs (pure functions, unit-tested)."""

from __future__ import annotations

from datetime import date, timedelta


def parse_run_date(value: str) -> date:
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a date in YYYY-MM-DD form") from exc


def date_range(start: str, end: str, max_days: int) -> list[str]:
    """Inclusive list of YYYY-MM-DD dates from ``start`` to ``end``; refuses reversed or huge ranges."""
    first, last = parse_run_date(start), parse_run_date(end)
    if last < first:
        raise ValueError(f"end_date {last} is before start_date {first}")
    days = (last - first).days + 1
    if days > max_days:
        raise ValueError(f"{days} days requested; at most {max_days} per backfill run (split the range)")
    return [(first + timedelta(days=i)).isoformat() for i in range(days)]
