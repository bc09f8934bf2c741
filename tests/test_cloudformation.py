"""cloudformation/event-mode.yaml passes the real cfn-lint, wires what event mode needs, and grants
the function exactly event mode's additions to iam/lambda-policy.json."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import venv_tool
from tests.helpers import listed

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "cloudformation" / "event-mode.yaml"
EVENT_MODE_ACTIONS = {
    "glue:GetDatabases",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
}


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


def resources() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)["Resources"]


def cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venv_tool("cfn-lint"), str(path)], capture_output=True, text=True, timeout=300
    )


def test_template_passes_cfn_lint(tmp_path: Path) -> None:
    done = cfn_lint(TEMPLATE)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text(TEMPLATE.read_text().replace("BatchSize: !Ref BatchSize", "BatchSiz: 10"))
    failed = cfn_lint(broken)
    assert failed.returncode != 0 and "BatchSiz" in failed.stdout, "cfn-lint checked nothing"


def by_type(kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in resources().values() if r["Type"] == kind]


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
