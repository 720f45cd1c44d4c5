"""boto3 clients bound to the current environment (local stand-ins or real AWS)."""

from __future__ import annotations

from functools import lru_cache

from common.config import get_settings


@lru_cache(maxsize=None)
def client(service: str):
    """A boto3 client for ``service`` whose endpoint/region/credentials come from the config seam."""
    import boto3
    from botocore.config import Config

    retry = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30)
    return boto3.client(service, config=retry, **get_settings().boto3_kwargs(service))
