"""Tiny stage functions for the runner's unit tests."""


class QualityGateFailed(RuntimeError):
    pass


def ok_stage(run_date):
    return {"run_date": run_date, "rows": 3}


def failing_stage(run_date):
    raise QualityGateFailed("2 expectations failed")


CALLS: list[tuple[str, str]] = []


def recording_stage(run_date, name="stage"):
    CALLS.append((name, run_date))
    return {"run_date": run_date, "processed": 2, "carried_forward": 5}


def windowed_stage(run_date, name="stage", lookback_days=None):
    CALLS.append((name, run_date, lookback_days))
    return {"run_date": run_date}


def noisy_stage(run_date):
    """Talks like the libraries do: Python logging, a print, a raw fd write, a child process."""
    import logging
    import os
    import subprocess
    import sys

    logging.getLogger("great_expectations").info("Calculating Metrics: 100%% (noise)")
    print("py4j noise on stdout")
    os.write(2, b"JVM noise on fd 2\n")
    subprocess.run([sys.executable, "-c", "print('child process noise')"], check=True)
    return {"run_date": run_date, "rows": 1}
