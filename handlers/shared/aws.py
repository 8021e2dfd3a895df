"""SDK clients, created once per process and only when first used (cold start)."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def client(service: str) -> Any:
    import boto3  # imported lazily: a function that never calls AWS never pays for it

    return boto3.client(service)


@cache
def resource(service: str) -> Any:
    import boto3

    return boto3.resource(service)
