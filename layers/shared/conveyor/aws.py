"""Boto3 clients, created once per process and reused across invocations."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Standard retry mode backs off on throttling; the SDK's default (legacy) retries less.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of an ``s3://bucket/key`` URI."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


@cache
def client(service: str) -> Any:
    """Return the process-wide boto3 client for ``service``."""
    return boto3.client(service, config=_CONFIG)
