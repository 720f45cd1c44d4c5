"""Tiny stage functions for the runner's unit tests."""


class QualityGateFailed(RuntimeError):
    pass


def ok_stage(run_date):
    return {"run_date": run_date, "rows": 3}


def failing_stage(run_date):
    raise QualityGateFailed("2 expectations failed")
