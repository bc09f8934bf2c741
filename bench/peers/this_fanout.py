"""Runs this project's handler fanned out: the scatter, then the work queue drained as Lambda's
SQS event source mapping would drain it (batches of --batch-size messages, the messages of a
batch item failure left on the queue), every invocation timed on its own and placed on one of
--workers workers, the first free one taking the next batch.

    python this_fanout.py --database raw_x --workers 10 --batch-size 10

Prints {"bench": {"critical_path_s", "scatter_s", "invocations", "mapping_calls"}} as JSON.
The critical path is the scatter's time plus the longest worker's (the invocations, measured one
at a time on this 2-core machine, then scheduled onto the workers as they would run at once);
interpreter start and imports are left out, as they are from the chain's. The mapping's own
calls (ReceiveMessage, DeleteMessageBatch) are Lambda's, not the function's: they go through a
client the benchmark's call counter and latency model do not touch, and are reported apart.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import sys
import time
import uuid
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


class Ample:
    """A Lambda context with 15 minutes left: no worker runs short."""

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def mapping_client() -> Any:
    """An SQS client outside the benchmark's count (its hook registers on every session)."""
    import boto3
    import botocore.session

    session = botocore.session.Session()
    session.unregister("before-send", unique_id="bench-call-counter")
    return boto3.session.Session(botocore_session=session).client("sqs")


def makespan(durations: list[float], workers: int) -> float:
    """When the last of `workers` is done, each invocation going to the first one free."""
    free = [0.0] * workers
    for duration in durations:
        heapq.heappush(free, heapq.heappop(free) + duration)
    return max(free)


def drain(handler: Any, sqs: Any, url: str, batch_size: int) -> tuple[list[float], int]:
    """Invoke the handler with each batch until the queue is empty; the invocations' times and
    the mapping's calls. A batch item failure fails the run: F1 has none."""
    durations: list[float] = []
    calls = 0
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(batch_size, 10))
        calls += 1
        messages = got.get("Messages", [])
        if not messages:
            return durations, calls
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": arn["QueueArn"],
                "awsRegion": os.environ.get("AWS_REGION", "us-east-1"),
            }
            for m in messages
        ]
        start = time.perf_counter()
        with redirect_stdout(sys.stderr):  # the metrics: stdout is for this run's JSON
            answer = handler.lambda_handler({"Records": records}, Ample())
        durations.append(time.perf_counter() - start)
        if answer["batchItemFailures"]:
            raise RuntimeError(f"batch item failures: {answer['batchItemFailures']}")
        entries = [
            {"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(records)
        ]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        calls += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    args = parser.parse_args(argv)

    import main as handler_module

    sqs = mapping_client()
    url = sqs.create_queue(
        QueueName=f"bench-work-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": "900"}
    )["QueueUrl"]
    os.environ["WORK_QUEUE_URL"] = url
    try:
        start = time.perf_counter()
        with redirect_stdout(sys.stderr):
            summary = handler_module.lambda_handler(
                {"databases": [args.database], "fan_out": True}, Ample()
            )
        scatter_s = time.perf_counter() - start
        if summary["status"] != "succeeded":
            print(json.dumps(summary), file=sys.stderr)
            return 1
        durations, calls = drain(handler_module, sqs, url, args.batch_size)
    finally:
        sqs.delete_queue(QueueUrl=url)
    measures = {
        "critical_path_s": round(scatter_s + makespan(durations, args.workers), 3),
        "scatter_s": round(scatter_s, 3),
        "invocations": 1 + len(durations),
        "workers": args.workers,
        "mapping_calls": calls,
        "queued": summary["queued"],
    }
    json.dump({"bench": measures}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
