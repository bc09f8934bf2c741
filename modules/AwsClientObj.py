"""boto3 clients (S3, Glue, Lambda, SQS) sharing one botocore Config.

Clients are thread-safe and costly to build, so one pair serves every worker thread of an
invocation and is kept for warm invocations; boto3 sessions are not thread-safe, so each pair
gets its own session here. Throttling, 5xx and dropped connections are retried by botocore's
`standard` (or `adaptive`) retry mode with exponential backoff and jitter. Glue's
`OperationTimeoutException` comes as an HTTP 400, which those modes do not retry
(aws/aws-sdk-pandas#2726): a handler of botocore's own `needs-retry` event retries it the same way.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

RETRY_MODES = ("standard", "adaptive")


@dataclass(frozen=True)
class AwsClients:
    """The clients the function uses (Lambda: to continue itself asynchronously; SQS: to queue
    fan-out's work messages)."""

    glue: Any
    s3: Any
    lambda_: Any
    sqs: Any


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


def get_clients(
    max_attempts: int, retry_mode: str, max_pool_connections: int, retry_base_delay: float = 0.5
) -> AwsClients:
    """Clients for the current endpoint and region, built once per distinct setting."""
    return _cached_clients(
        max_attempts,
        retry_mode,
        max_pool_connections,
        retry_base_delay,
        os.environ.get("AWS_ENDPOINT_URL"),
        os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
    )


# Glue errors that are worth the same retries as throttling, though botocore's modes skip them.
ALSO_RETRIED = frozenset({"OperationTimeoutException"})
_MAX_DELAY = 20.0


def backoff(attempt: int, base_delay: float, max_delay: float = _MAX_DELAY) -> float:
    """Seconds to wait before `attempt` (1 = the first retry): capped exponential backoff with
    full jitter, the scheme botocore's retry modes use, for the retries the function makes
    itself (per-item errors of batch calls, errors botocore does not retry)."""
    return min(max_delay, base_delay * 2**attempt) * random.random()


def retry_also(client: Any, max_attempts: int, base_delay: float) -> None:
    """Retry `ALSO_RETRIED` errors of whole calls with capped exponential backoff and full
    jitter, up to `max_attempts` attempts. botocore asks its `needs-retry` handlers in turn and
    takes the first delay: this one answers only when the retry mode's own said no."""

    def needs_retry(response: Any = None, attempts: int = 1, **_: Any) -> float | None:
        if response is None or attempts >= max_attempts:
            return None
        code = (response[1] or {}).get("Error", {}).get("Code")
        if code not in ALSO_RETRIED:
            return None
        return backoff(attempts, base_delay)

    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(f"needs-retry.{service}", needs_retry, unique_id="retry-also")


@lru_cache(maxsize=8)
def _cached_clients(
    max_attempts: int,
    retry_mode: str,
    max_pool_connections: int,
    retry_base_delay: float,
    endpoint_url: str | None,
    region: str | None,
) -> AwsClients:
    config = client_config(max_attempts, retry_mode, max_pool_connections)
    session = boto3.session.Session(region_name=region)
    glue = session.client("glue", config=config, endpoint_url=endpoint_url)
    retry_also(glue, max_attempts, retry_base_delay)
    return AwsClients(
        glue=glue,
        s3=session.client("s3", config=config, endpoint_url=endpoint_url),
        lambda_=session.client("lambda", config=config, endpoint_url=endpoint_url),
        sqs=session.client("sqs", config=config, endpoint_url=endpoint_url),
    )
