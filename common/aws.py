"""boto3 clients bound to the current environment (local stand-ins or real AWS)."""

from __future__ import annotations

from functools import cache

from common.config import get_settings


def client(service: str):
    """A boto3 client for ``service`` whose endpoint/region/credentials come from the config seam.

    Cached per (service, endpoint settings), so tests that repoint the seam get a fresh client.
    """
    kwargs = get_settings().boto3_kwargs(service)
    return _cached_client(service, tuple(sorted(kwargs.items())))


@cache
def _cached_client(service: str, kwargs: tuple):
    import boto3
    from botocore.config import Config

    retry = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30)
    return boto3.client(service, config=retry, **dict(kwargs))
