"""boto3 clients (S3, Glue, Lambda) sharing one botocore Config.

Clients are thread-safe and costly to build, so one pair serves every worker thread of an
invocation and is kept for warm invocations; boto3 sessions are not thread-safe, so each pair
gets its own session here. Throttling, 5xx and dropped connections are retried by botocore's
`standard` (or `adaptive`) retry mode with exponential backoff and jitter.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

RETRY_MODES = ("standard", "adaptive")


@dataclass(frozen=True)
class AwsClients:
    """The clients the function uses (Lambda: to continue itself asynchronously)."""

    glue: Any
    s3: Any
    lambda_: Any


def client_config(max_attempts: int, retry_mode: str, max_pool_connections: int) -> Config:
    """The botocore Config both clients share."""
    if retry_mode not in RETRY_MODES:
        raise ValueError(f"retry mode {retry_mode!r} is not one of {', '.join(RETRY_MODES)}")
    return Config(
        retries={"mode": retry_mode, "total_max_attempts": max_attempts},
        max_pool_connections=max_pool_connections,
        connect_timeout=10,
        read_timeout=60,
        user_agent_extra="glue-catalog-partition-management",
        # The requests are built here from Glue's own table definitions; Glue and S3 validate
        # them anyway. Client-side validation of 50 batches of 100 partitions costs ~0.4 s.
        parameter_validation=False,
    )


def get_clients(max_attempts: int, retry_mode: str, max_pool_connections: int) -> AwsClients:
    """Clients for the current endpoint and region, built once per distinct setting."""
    return _cached_clients(
        max_attempts,
        retry_mode,
        max_pool_connections,
        os.environ.get("AWS_ENDPOINT_URL"),
        os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
    )


@lru_cache(maxsize=8)
def _cached_clients(
    max_attempts: int,
    retry_mode: str,
    max_pool_connections: int,
    endpoint_url: str | None,
    region: str | None,
) -> AwsClients:
    config = client_config(max_attempts, retry_mode, max_pool_connections)
    session = boto3.session.Session(region_name=region)
    return AwsClients(
        glue=session.client("glue", config=config, endpoint_url=endpoint_url),
        s3=session.client("s3", config=config, endpoint_url=endpoint_url),
        lambda_=session.client("lambda", config=config, endpoint_url=endpoint_url),
    )
