"""Seeds for simulated test days, picked by planning rather than hoping.

The simulator's days depend on the date (``default_rng([seed, date])``), so at the small scales tests
use, a fixed seed can on some dates produce a day without, say, a job closing or a late event — and a
test that needs one fails on that date only (CI runs on whatever day it runs). Planning a day
(``ingestion.simulator.build_day``) is pure and takes well under a second at these scales, so a test
asks for the first seed whose planned days have what it asserts on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


def first_seed(days: Sequence[str], scale: float, accept: Callable[[list], bool], first: int,
               tries: int = 40) -> int:
    """The first seed from ``first`` whose consecutive planned ``days`` (each continuing the one before,
    as run_simulation's history does) satisfy ``accept(plans)``."""
    from ingestion.simulator import build_day

    for seed in range(first, first + tries):
        plans, state = [], None
        for day in days:
            plans.append(build_day(day, seed, scale, state=state))
            state = plans[-1].state
        if accept(plans):
            return seed
    raise AssertionError(f"no seed in {first}..{first + tries - 1} gives the days {list(days)} what the test needs")
