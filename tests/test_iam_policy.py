"""Least privilege: iam/lambda-policy.json grants exactly the AWS actions the handler calls, on
the RAW databases' resources only, and a refused database makes no call at all.

The handler's calls are recorded by a botocore hook on its clients over runs that take every
path that reaches AWS (three layouts, full and incremental scans, template date checks, sync
removals, a partition located outside its table, dry run, a run that continues itself and
remembers where the next one resumes, event mode, a fan-out and a worker that queues again),
and the code is read for calls too. Receiving from the queues is the event source mappings'
part, which they do with the function's role.
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest

import main
from modules import EventSync
from modules.Continuation import STATE_TABLE
from tests.conftest import FUNCTION_ARN, REGION, Aws, FakeContext, LambdaContext, lambda_invokes
from tests.helpers import (
    BUCKET,
    DATABASE,
    build_lake,
    hooked_clients,
    listed,
    proxied,
    seed_objects,
)

ROOT = Path(__file__).resolve().parent.parent
POLICY_PATH = ROOT / "iam" / "lambda-policy.json"
ACCOUNT = "123456789012"
FUNCTION = FUNCTION_ARN.split(":")[6]
QUEUE = "raw-object-created"
WORK_QUEUE = "raw-partition-work"
PLACEHOLDERS = {
    "${Region}": REGION,
    "${AccountId}": ACCOUNT,
    "${DataBucket}": BUCKET,
    "${FunctionName}": FUNCTION,
    "${EventQueue}": QUEUE,
    "${WorkQueue}": WORK_QUEUE,
}
# The IAM action behind each API operation the function may call.
IAM_ACTION = {
    ("glue", "GetDatabases"): "glue:GetDatabases",
    ("glue", "GetTables"): "glue:GetTables",
    ("glue", "GetPartitions"): "glue:GetPartitions",
    ("glue", "BatchCreatePartition"): "glue:BatchCreatePartition",
    ("glue", "BatchDeletePartition"): "glue:BatchDeletePartition",
    ("glue", "UpdateTable"): "glue:UpdateTable",
    ("glue", "CreateTable"): "glue:CreateTable",
    ("glue", "GetPartitionIndexes"): "glue:GetPartitionIndexes",
    ("glue", "CreatePartitionIndex"): "glue:CreatePartitionIndex",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("lambda", "Invoke"): "lambda:InvokeFunction",
    ("sqs", "SendMessageBatch"): "sqs:SendMessage",
}
# The attribute each client has in modules/AwsClientObj.AwsClients.
CLIENT_ATTRIBUTE = {"glue": "glue", "s3": "s3", "lambda": "lambda_", "sqs": "sqs"}
# What the event source mapping does with the function's role (documented by AWS for SQS sources).
EVENT_SOURCE_MAPPING = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}

Call = tuple[str, str, dict[str, Any]]  # service, operation, API parameters


def load_policy() -> dict[str, Any]:
    """The policy with its placeholders filled in for the test account."""
    text = POLICY_PATH.read_text()
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    return json.loads(text)


def required_resources(service: str, params: dict[str, Any]) -> list[str]:
    """The resource ARNs IAM checks for a call (Glue: catalog, database, table)."""
    if service == "s3":
        return [f"arn:aws:s3:::{params['Bucket']}"]
    if service == "sqs":  # a queue URL ends in /<account>/<name>
        account, name = params["QueueUrl"].rstrip("/").split("/")[-2:]
        return [f"arn:aws:sqs:{REGION}:{account}:{name}"]
    if service == "lambda":
        function = params["FunctionName"]
        if not function.startswith("arn:"):
            function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"
        return [function + (f":{params['Qualifier']}" if params.get("Qualifier") else "")]
    glue = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    if "DatabaseName" not in params:  # GetDatabases: the catalog's databases
        return [f"{glue}:catalog"]
    database = params["DatabaseName"]
    table = params.get("TableName") or params.get("TableInput", {}).get("Name", "*")
    return [f"{glue}:catalog", f"{glue}:database/{database}", f"{glue}:table/{database}/{table}"]


def allowed(policy: dict[str, Any], action: str, resource: str) -> bool:
    """Whether an Allow statement grants the action on the resource (IAM wildcards)."""
    for statement in policy["Statement"]:
        if statement["Effect"] != "Allow":
            continue
        actions = listed(statement["Action"])
        resources = listed(statement["Resource"])
        if any(fnmatch.fnmatchcase(action, a) for a in actions) and any(
            fnmatch.fnmatchcase(resource, r) for r in resources
        ):
            return True
    return False


def operations_in_code() -> set[tuple[str, str]]:
    """The (service, operation) pairs the code can call, read from main.py and modules/."""
    clients = {s: boto3.client(s, region_name=REGION) for s in CLIENT_ATTRIBUTE}
    found = set()
    for path in [ROOT / "main.py", *sorted((ROOT / "modules").glob("*.py"))]:
        text = path.read_text()
        for service, client in clients.items():
            name = CLIENT_ATTRIBUTE[service]
            names = re.findall(rf"\b{name}\.get_paginator\(\"(\w+)\"\)", text)
            names += [
                n
                for n in re.findall(rf"\b{name}\.(\w+)\(", text)
                if n not in ("get_paginator", "meta")
            ]
            found |= {(service, client.meta.method_to_api_mapping[n]) for n in names}
    return found


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    """Every API call the handler's clients make during the test."""
    calls: list[Call] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls.append((model.service_model.signing_name, model.name, dict(params)))

    with hooked_clients(monkeypatch, {"before-parameter-build": record}):
        yield calls


def run_every_path(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs that reach every AWS call of the handler."""
    lake = build_lake(aws)  # three layouts; some tables new (full scan), some incremental
    assert main.lambda_handler({"databases": [DATABASE]}, None)["status"] == "succeeded"
    # A partition outside its table's prefix (checked on its own) and two whose data is gone.
    aws.register(
        DATABASE,
        "hive_hourly",
        [
            (["2020-01-01", "00"], f"s3://{BUCKET}/archive/hive_hourly/2020-01-01/00/"),
            (["2020-01-02", "00"], f"s3://{BUCKET}/hive_hourly/dt=2020-01-02/hour=00/"),
        ],
    )
    seed_objects(BUCKET, ["archive/hive_hourly/2020-01-01/00/part-0.json"])
    lake.expected["hive_hourly"][("2020-01-01", "00")] = (
        f"s3://{BUCKET}/archive/hive_hourly/2020-01-01/00/"
    )
    sync = {"databases": [DATABASE], "tables": ["hive_hourly"], "mode": "sync"}
    assert main.lambda_handler({**sync, "dry_run": True}, None)["totals"]["removed"] == 1
    assert main.lambda_handler(sync, None)["totals"]["removed"] == 1
    assert main.lambda_handler({"databases": [DATABASE], "full_scan": True}, None)
    assert lake.catalog() == lake.expected
    # Out of time at once: the tables are handed on to the function itself, and where the next
    # run starts is written into the function's state table (created the first time).
    monkeypatch.setenv("CONTINUE_ASYNC", "true")
    with lambda_invokes(monkeypatch) as invokes:
        summary = main.lambda_handler({"databases": [DATABASE]}, LambdaContext(0))
    assert summary["handed_on"] and len(invokes) == 1
    # Event mode: the table index (GetDatabases, GetTables) and direct creates.
    key = "hive_hourly/dt=2019-12-31/hour=23/part-0.json"
    seed_objects(BUCKET, [key])
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": BUCKET}, "object": {"key": key}},
            }
        ]
    }
    EventSync.INDEX.clear()
    assert main.lambda_handler(event, None)["totals"]["created"] == 1
    # Fan-out: the scatter queues the tables; a worker runs one message and, out of time after
    # its first table, queues the rest again.
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=aws.endpoint)
    url = sqs.create_queue(QueueName=WORK_QUEUE)["QueueUrl"]
    monkeypatch.setenv("WORK_QUEUE_URL", url)
    scatter = main.lambda_handler({"databases": [DATABASE], "fan_out": True}, None)
    assert scatter["status"] == "succeeded" and scatter["queued"]["tables"] > 1
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    records = [
        {"messageId": m["MessageId"], "body": m["Body"], "eventSource": "aws:sqs"} for m in got
    ]
    monkeypatch.setenv("TABLE_CONCURRENCY", "1")
    answer = main.lambda_handler({"Records": records}, FakeContext(60_500, 1_000))
    assert answer == {"batchItemFailures": []}


def test_policy_grants_exactly_what_the_handler_calls(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, recorded: list[Call]
) -> None:
    """Each recorded call is granted on the resources it names; every granted action was
    called; and the code holds no call the runs did not make."""
    run_every_path(aws, monkeypatch)
    policy = load_policy()
    operations = {(service, op) for service, op, _ in recorded}
    assert operations == operations_in_code(), "a call in the code was never exercised"
    assert operations <= set(IAM_ACTION), f"no IAM action known for {operations - set(IAM_ACTION)}"
    for service, op, params in recorded:
        action = IAM_ACTION[(service, op)]
        for resource in required_resources(service, params):
            assert allowed(policy, action, resource), f"{action} on {resource} is not granted"
    granted = {a for s in policy["Statement"] for a in listed(s["Action"])}
    expected = {IAM_ACTION[o] for o in operations} | EVENT_SOURCE_MAPPING
    assert granted == expected, "the policy grants an unused action"
    for action in EVENT_SOURCE_MAPPING:
        for queue in (QUEUE, WORK_QUEUE):
            assert allowed(policy, action, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}")
        assert not allowed(policy, action, f"arn:aws:sqs:{REGION}:{ACCOUNT}:other-queue")


def test_policy_is_scoped_to_raw_databases_and_the_data_buckets() -> None:
    """No wildcard actions or resources, no Deny tricks; other databases and buckets refused."""
    policy = load_policy()
    assert policy["Version"] == "2012-10-17"
    for statement in policy["Statement"]:
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource"}, statement
        assert statement["Effect"] == "Allow"
        assert all("*" not in a for a in listed(statement["Action"]))
        assert all(r != "*" and ":*:" not in r for r in listed(statement["Resource"]))
    for database in ("curated_sales", "rawsales", "sales_raw_x"):
        params = {"DatabaseName": database, "TableName": "t"}
        denied = required_resources("glue", params)[1:]
        assert not any(allowed(policy, "glue:BatchCreatePartition", r) for r in denied)
    assert allowed(
        policy,
        "glue:BatchDeletePartition",
        required_resources("glue", {"DatabaseName": "raw_sales", "TableName": "orders"})[2],
    )
    assert not allowed(policy, "s3:ListBucket", "arn:aws:s3:::some-other-bucket")
    lambda_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function"
    state = required_resources("glue", {"DatabaseName": "raw_sales", "TableName": STATE_TABLE})
    assert all(allowed(policy, "glue:UpdateTable", r) for r in state)
    for action in ("glue:UpdateTable", "glue:CreateTable"):  # the state table, nothing else
        orders = required_resources("glue", {"DatabaseName": "raw_sales", "TableName": "orders"})
        assert not allowed(policy, action, orders[2])
    assert allowed(policy, "lambda:InvokeFunction", f"{lambda_arn}:{FUNCTION}:live")
    for other in (f"{FUNCTION}-other", f"{FUNCTION}-other:live", "parent"):
        assert not allowed(policy, "lambda:InvokeFunction", f"{lambda_arn}:{other}")
    assert not allowed(policy, "s3:GetObject", f"arn:aws:s3:::{BUCKET}/x")
    assert not allowed(policy, "sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:{QUEUE}")
    text = POLICY_PATH.read_text()
    assert set(re.findall(r"\$\{\w+\}", text)) == set(PLACEHOLDERS)


@pytest.mark.parametrize(
    "databases", [["curated_sales"], ["raw_sales", "curated_sales"], ["Raw_sales"]]
)
def test_refused_database_makes_no_aws_call(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, recorded: list[Call], databases: list[str]
) -> None:
    """The database pattern is checked before any call: nothing recorded, nothing on the wire."""
    aws.database("raw_sales")
    with (
        proxied(monkeypatch, aws.endpoint) as proxy,
        pytest.raises(ValueError, match="RAW_DATABASE_PATTERN"),
    ):
        main.lambda_handler({"databases": databases}, None)
    assert recorded == [] and proxy.calls() == []
    with proxied(monkeypatch, aws.endpoint) as proxy:
        main.lambda_handler({"databases": ["raw_sales"]}, None)
    assert recorded and len(proxy.calls()) == len(recorded), "the recorder saw nothing"
