"""The templates pass the real cfn-lint and wire what their mode needs:
cloudformation/event-mode.yaml (S3 events to a queue and the function), cloudformation/fan-out.yaml
(the work queue and the mapping that runs the workers); each grants the function exactly its
mode's additions to iam/lambda-policy.json."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import venv_tool
from tests.helpers import listed

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "cloudformation" / "event-mode.yaml"
FAN_OUT = ROOT / "cloudformation" / "fan-out.yaml"
RECEIVE = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
EVENT_MODE_ACTIONS = {"glue:GetDatabases", *RECEIVE}


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (`!Ref`, `!GetAtt`, `!Sub`) kept as plain values."""


_CfnLoader.add_multi_constructor(
    "!",
    lambda loader, suffix, node: {
        suffix: loader.construct_scalar(node)
        if isinstance(node, yaml.ScalarNode)
        else loader.construct_sequence(node)
    },
)


def resources(template: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(template.read_text(), Loader=_CfnLoader)["Resources"]


def cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venv_tool("cfn-lint"), str(path)], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("template", [TEMPLATE, FAN_OUT], ids=lambda t: t.name)
def test_template_passes_cfn_lint(tmp_path: Path, template: Path) -> None:
    done = cfn_lint(template)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text(template.read_text().replace("BatchSize: !Ref BatchSize", "BatchSiz: 10"))
    failed = cfn_lint(broken)
    assert failed.returncode != 0 and "BatchSiz" in failed.stdout, "cfn-lint checked nothing"


def by_type(kind: str, template: Path = TEMPLATE) -> list[dict[str, Any]]:
    return [r["Properties"] for r in resources(template).values() if r["Type"] == kind]


def test_template_wires_queue_dead_letters_notification_and_mapping() -> None:
    [mapping] = by_type("AWS::Lambda::EventSourceMapping")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert {"BatchSize", "MaximumBatchingWindowInSeconds"} <= set(mapping)
    queues = {name: r for name, r in resources().items() if r["Type"] == "AWS::SQS::Queue"}
    redrive = queues["EventQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"GetAtt": "DeadLetterQueue.Arn"}
    assert "maxReceiveCount" in redrive
    assert mapping["EventSourceArn"] == {"GetAtt": "EventQueue.Arn"}
    [bucket] = by_type("AWS::S3::Bucket")
    [notify] = bucket["NotificationConfiguration"]["QueueConfigurations"]
    assert notify == {"Event": "s3:ObjectCreated:*", "Queue": {"GetAtt": "EventQueue.Arn"}}
    [queue_policy] = by_type("AWS::SQS::QueuePolicy")
    [send] = queue_policy["PolicyDocument"]["Statement"]
    assert send["Principal"] == {"Service": "s3.amazonaws.com"}
    assert send["Action"] == "sqs:SendMessage" and "aws:SourceArn" in send["Condition"]["ArnEquals"]


def test_template_grants_event_mode_actions_as_the_function_policy_does() -> None:
    [role_policy] = by_type("AWS::IAM::RolePolicy")
    statements = role_policy["PolicyDocument"]["Statement"]
    granted = {a for s in statements for a in listed(s["Action"])}
    assert granted == EVENT_MODE_ACTIONS
    policy = json.loads((ROOT / "iam" / "lambda-policy.json").read_text())
    in_policy = {a for s in policy["Statement"] for a in listed(s["Action"])}
    assert in_policy >= EVENT_MODE_ACTIONS


def test_fan_out_template_wires_the_work_queue_its_dead_letters_and_the_workers() -> None:
    """The work queue redrives to its dead-letter queue after maxReceiveCount deliveries (Amazon
    SQS developer guide, "Using dead-letter queues"); the mapping reports batch item failures and
    caps its concurrency with ScalingConfig.MaximumConcurrency, 2 to 1,000 (AWS Lambda API
    reference, ScalingConfig); the visibility timeout defaults to six times Lambda's longest
    timeout (AWS Lambda developer guide, "Creating and configuring an Amazon SQS event source
    mapping")."""
    [mapping] = by_type("AWS::Lambda::EventSourceMapping", FAN_OUT)
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "MaxConcurrency"}}
    assert mapping["EventSourceArn"] == {"GetAtt": "WorkQueue.Arn"}
    queues = {
        n: r["Properties"] for n, r in resources(FAN_OUT).items() if r["Type"] == "AWS::SQS::Queue"
    }
    redrive = queues["WorkQueue"]["RedrivePolicy"]
    assert redrive == {
        "deadLetterTargetArn": {"GetAtt": "WorkDeadLetterQueue.Arn"},
        "maxReceiveCount": {"Ref": "MaxReceiveCount"},
    }
    parameters = yaml.load(FAN_OUT.read_text(), Loader=_CfnLoader)["Parameters"]
    assert (parameters["MaxConcurrency"]["MinValue"], parameters["MaxConcurrency"]["MaxValue"]) == (
        2,
        1000,
    )
    assert parameters["VisibilityTimeoutSeconds"]["Default"] >= 6 * 900
    outputs = yaml.load(FAN_OUT.read_text(), Loader=_CfnLoader)["Outputs"]
    assert outputs["WorkQueueUrl"]["Value"] == {"Ref": "WorkQueue"}


def test_fan_out_template_grants_sending_and_receiving_work_as_the_function_policy_does() -> None:
    """The role sends work messages (`SendMessageBatch` is authorised as `sqs:SendMessage`,
    Amazon SQS API permissions reference), and the mapping reads the queue with it
    (`sqs:ReceiveMessage`, `sqs:DeleteMessage`, `sqs:GetQueueAttributes`: AWS Lambda developer
    guide, "Using Lambda with Amazon SQS", execution role permissions); on the work queue only."""
    [role_policy] = by_type("AWS::IAM::RolePolicy", FAN_OUT)
    statements = role_policy["PolicyDocument"]["Statement"]
    granted = {a for s in statements for a in listed(s["Action"])}
    assert granted == {"sqs:SendMessage", *RECEIVE}
    assert all(s["Resource"] == {"GetAtt": "WorkQueue.Arn"} for s in statements)
    policy = json.loads((ROOT / "iam" / "lambda-policy.json").read_text())
    in_policy = {a for s in policy["Statement"] for a in listed(s["Action"])}
    assert in_policy >= granted
