"""Shared fixtures: one moto server over real HTTP on loopback behind the strict layer (which
answers Glue calls as Glue would, tests/strictlayer.py), dummy credentials, and builders for RAW
databases, tables and S3 objects."""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from tests.strictlayer import StrictLayer, moto_behind_layer

REGION = "us-east-1"
DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}

# No test may reach real AWS: dummy credentials for everything, from the start.
for _name, _value in DUMMY_ENV.items():
    os.environ[_name] = _value
os.environ.pop("AWS_PROFILE", None)
os.environ.setdefault("RETRY_BASE_DELAY_SECONDS", "0.01")

# The session's one "now": taken when the tests are collected. Test data is built around it
# (hours and days before it), and the handler is held to it by `session_clock`.
CLOCK = datetime.now(UTC)


class _SessionClock(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        return CLOCK.astimezone(tz) if tz else CLOCK.replace(tzinfo=None)


@pytest.fixture(autouse=True)
def session_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The handler reads the time once a run (`main.datetime.now`). Held to `CLOCK`, a run and the
    data a test built "an hour ago" agree on the hour even when the suite, which lasts minutes,
    crosses one: unheld, a retention test collected at 15:59 and run at 16:00 expired one
    partition more than it built. A test that moves time itself patches `main.datetime` again."""
    import main

    monkeypatch.setattr(main, "datetime", _SessionClock)


@pytest.fixture(scope="session")
def strict_layer() -> Iterator[StrictLayer]:
    """A moto server with the strict layer in front, for the whole session."""
    with moto_behind_layer() as layer:
        yield layer


@pytest.fixture(scope="session")
def raw_moto_endpoint(strict_layer: StrictLayer) -> str:
    """The moto server itself, behind the layer. Only for the rare test that must see bare moto
    (and must say why); all else goes through `moto_endpoint`."""
    return strict_layer.upstream_endpoint


@pytest.fixture(scope="session")
def moto_endpoint(strict_layer: StrictLayer) -> Iterator[str]:
    """The endpoint every integration test talks to: the strict layer in front of moto. It is
    also `AWS_ENDPOINT_URL`, so the handler's own clients go through it."""
    endpoint = strict_layer.endpoint
    previous = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    try:
        yield endpoint
    finally:
        if previous is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = previous


@dataclass
class Aws:
    """Clients for a test, and builders for the catalog and the bucket."""

    endpoint: str
    glue: Any
    s3: Any

    def bucket(self, name: str) -> str:
        self.s3.create_bucket(Bucket=name)
        return name

    def database(self, name: str) -> str:
        self.glue.create_database(DatabaseInput={"Name": name})
        return name

    def table(
        self,
        database: str,
        name: str,
        location: str | None,
        keys: list[tuple[str, str]] | list[str],
        parameters: dict[str, str] | None = None,
        serde: str = "org.openx.data.jsonserde.JsonSerDe",
    ) -> dict[str, Any]:
        sd: dict[str, Any] = {
            "Columns": [{"Name": "id", "Type": "string"}, {"Name": "payload", "Type": "string"}],
            "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {"SerializationLibrary": serde, "Parameters": {"paths": "id,payload"}},
            "Compressed": False,
            "Parameters": {"classification": "json"},
        }
        if location is not None:
            sd["Location"] = location
        table_input = {
            "Name": name,
            "TableType": "EXTERNAL_TABLE",
            "StorageDescriptor": sd,
            "PartitionKeys": [
                {"Name": k[0], "Type": k[1]}
                if isinstance(k, tuple)
                else {"Name": k, "Type": "string"}
                for k in keys
            ],
            "Parameters": {"classification": "json", **(parameters or {})},
        }
        self.glue.create_table(DatabaseName=database, TableInput=table_input)
        return table_input

    def put(self, bucket: str, keys: list[str], body: bytes = b'{"id": "1"}\n') -> None:
        for key in keys:
            self.s3.put_object(Bucket=bucket, Key=key, Body=body)

    def register(self, database: str, table: str, partitions: list[tuple[list[str], str]]) -> None:
        """Register partitions (values, location) the way an earlier run would have."""
        sd = self.glue.get_table(DatabaseName=database, Name=table)["Table"]["StorageDescriptor"]
        inputs = [
            {"Values": values, "StorageDescriptor": {**sd, "Location": location}}
            for values, location in partitions
        ]
        for i in range(0, len(inputs), 100):
            self.glue.batch_create_partition(
                DatabaseName=database, TableName=table, PartitionInputList=inputs[i : i + 100]
            )

    def read_partitions(self, database: str, table: str) -> list[dict[str, Any]]:
        """Every partition of a table as Glue describes it, page after page."""
        pages = self.glue.get_paginator("get_partitions").paginate(
            DatabaseName=database, TableName=table
        )
        return [p for page in pages for p in page["Partitions"]]

    def partitions(self, database: str, table: str) -> dict[tuple[str, ...], str]:
        """The catalog's partitions of a table: values -> location."""
        found = self.read_partitions(database, table)
        return {tuple(p["Values"]): p["StorageDescriptor"]["Location"] for p in found}


def validating_clients(endpoint: str) -> tuple[Any, Any]:
    """Glue and S3 clients for a test's own calls; they validate parameters, as boto3 does by
    default (the handler's clients do not: modules/AwsClientObj.py)."""
    config = Config(parameter_validation=True)
    return tuple(  # type: ignore[return-value]
        boto3.client(service, region_name=REGION, endpoint_url=endpoint, config=config)
        for service in ("glue", "s3")
    )


@pytest.fixture
def strict(strict_layer: StrictLayer) -> StrictLayer:
    """The strict layer every call of the test goes through; the `aws` fixture has reset it to
    its defaults. Change `strict.strictness` to play Lake Formation, timeouts, page sizes."""
    return strict_layer


@pytest.fixture
def aws(moto_endpoint: str, strict_layer: StrictLayer) -> Iterator[Aws]:
    """A clean moto state and a strict layer at its defaults, for each test."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
    strict_layer.reset()
    yield Aws(moto_endpoint, *validating_clients(moto_endpoint))


@dataclass
class FakeContext:
    """A Lambda context whose remaining time falls by `step_ms` at each look."""

    remaining_ms: int
    step_ms: int = 0

    def get_remaining_time_in_millis(self) -> int:
        value = self.remaining_ms
        self.remaining_ms -= self.step_ms
        return value


FUNCTION_ARN = f"arn:aws:lambda:{REGION}:123456789012:function:partition-sync:live"


@dataclass
class LambdaContext(FakeContext):
    """A FakeContext that also names the function, as Lambda's context does."""

    invoked_function_arn: str = FUNCTION_ARN


class _EmptyBody:
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b""

    def read(self, *_: Any) -> bytes:
        return b""


@contextmanager
def lambda_invokes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Play Lambda's asynchronous invoke at the handler's Lambda client (moto needs docker to
    run `invoke`): each call is answered 202 Accepted and its parameters are recorded, with the
    payload decoded, for the test to run the handler with."""
    import main

    original = main.get_clients
    invokes: list[dict[str, Any]] = []
    hooked: list[Any] = []

    def accept(request: Any, **_: Any) -> AWSResponse:
        return AWSResponse(request.url, 202, {}, _EmptyBody())

    def record(params: dict[str, Any], **_: Any) -> None:
        invokes.append({**params, "Payload": json.loads(params["Payload"])})

    def get_clients(*args: Any) -> Any:
        clients = original(*args)
        events = clients.lambda_.meta.events
        events.register("before-send.lambda.Invoke", accept, unique_id="test-invoke-send")
        events.register("before-parameter-build.lambda.Invoke", record, unique_id="test-invoke")
        hooked.append(clients.lambda_)
        return clients

    monkeypatch.setattr(main, "get_clients", get_clients)
    try:
        yield invokes
    finally:
        monkeypatch.setattr(main, "get_clients", original)
        for client in hooked:
            client.meta.events.unregister("before-send.lambda.Invoke", unique_id="test-invoke-send")
            client.meta.events.unregister(
                "before-parameter-build.lambda.Invoke", unique_id="test-invoke"
            )


def venv_tool(name: str) -> str:
    """A command-line tool installed by requirements-dev.txt: next to this Python, else on PATH."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    assert found, f"{name} comes with requirements-dev.txt"
    return found


def dumps(value: Any) -> str:
    """Pretty JSON for assertion messages."""
    return json.dumps(value, indent=1, default=str)
