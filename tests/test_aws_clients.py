"""AwsClientObj: one botocore Config for both clients, cached per endpoint and setting."""

from __future__ import annotations

import pytest

from modules.AwsClientObj import client_config, get_clients


def test_config_counts_every_try_and_bounds_the_pool() -> None:
    config = client_config(8, "adaptive", 16)
    assert config.retries == {"mode": "adaptive", "total_max_attempts": 8}
    assert config.max_pool_connections == 16


def test_unknown_retry_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="retry mode 'legacy'"):
        client_config(8, "legacy", 16)


def test_clients_are_shared_per_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    first = get_clients(8, "standard", 16)
    assert get_clients(8, "standard", 16) is first  # warm invocations reuse them
    assert first.glue.meta.endpoint_url == "http://127.0.0.1:1"
    assert first.s3.meta.config.retries["total_max_attempts"] == 8
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:2")
    second = get_clients(8, "standard", 16)
    assert second is not first and second.s3.meta.endpoint_url == "http://127.0.0.1:2"
