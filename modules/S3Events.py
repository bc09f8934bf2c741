"""The S3 event shapes the handler takes besides the parent's `{"databases": …}` event.

S3 announces objects in four wrappings: a bucket notification (`{"Records": [{"eventSource":
"aws:s3", …}]}`), the same wrapped by SNS (`{"Type": "Notification", "Message": "<json>"}`), an
EventBridge event (`"source": "aws.s3"`), and `s3:TestEvent` when a notification is set up. Any of
them arrives either directly or as the body of an SQS message. This module only recognises and
decodes them (no AWS call), so every shape can be tested on its own.

Keys in bucket notifications are URL-encoded (`+` is a space, a Hive `%3A` arrives as `%253A`,
and some senders encode `/` as `%2F`); EventBridge keys are not. Each key is decoded exactly once
here, so the layouts downstream see the key as it is in S3.

The shapes are checked by hand rather than with powertools' event data classes: those wrap the
dict without validating it, and the handler has to say precisely what was wrong with a message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

CREATED, REMOVED, OTHER = "created", "removed", "other"
# Top-level keys that only an S3 event shape (or a malformed try at one) carries.
_MARKERS = frozenset({"Records", "source", "detail-type", "detail", "Event", "Type", "Message"})


class UnrecognisedEvent(ValueError):
    """A message or event that is none of the S3 shapes; the text says what was seen."""


@dataclass(frozen=True)
class ObjectEvent:
    """One object S3 announced, its key decoded."""

    bucket: str
    key: str
    kind: str  # CREATED, REMOVED or OTHER (restore, tagging, ACL, replication, …)
    message_id: str | None = None  # the SQS message that carried it


@dataclass
class Delivery:
    """Everything one invocation was handed."""

    sqs: bool
    messages: int = 0
    test_events: int = 0
    objects: list[ObjectEvent] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)  # SQS messages, in delivery order
    unrecognised: dict[str, str] = field(default_factory=dict)  # messageId -> why


def is_s3_event(event: Any) -> bool:
    """True for an event this module should decode rather than the parent's event."""
    return isinstance(event, dict) and "databases" not in event and bool(set(event) & _MARKERS)


def decode(event: dict[str, Any]) -> Delivery:
    """Decode an SQS batch or a direct S3 event.

    In an SQS batch a message that is not a recognisable S3 event is kept in `unrecognised`
    (the handler reports it as failed, so it ends in the dead-letter queue); a malformed batch,
    or a direct event that is not one of the shapes, raises ValueError naming what was seen.
    """
    records = event.get("Records")
    if isinstance(records, list) and records and _is_sqs_record(records[0]):
        return _decode_sqs(records)
    delivery = Delivery(sqs=False, messages=1)
    try:
        delivery.test_events = _read_document(event, None, delivery.objects)
    except UnrecognisedEvent as exc:
        raise ValueError(f"the event is not an S3 event: {exc}") from None
    return delivery


def _is_sqs_record(record: Any) -> bool:
    return isinstance(record, dict) and record.get("eventSource") == "aws:sqs"


def _decode_sqs(records: list[Any]) -> Delivery:
    delivery = Delivery(sqs=True, messages=len(records))
    for i, record in enumerate(records):
        if not _is_sqs_record(record):
            source = record.get("eventSource") if isinstance(record, dict) else record
            raise ValueError(f"SQS batch: Records[{i}] has eventSource {source!r}, not aws:sqs")
        message_id = record.get("messageId")
        if not isinstance(message_id, str) or not message_id:
            raise ValueError(f"SQS batch: Records[{i}] has no messageId")
        delivery.message_ids.append(message_id)
        try:
            body = record.get("body")
            if not isinstance(body, str):
                raise UnrecognisedEvent(f"the body is {type(body).__name__}, not a string")
            try:
                document = json.loads(body)
            except json.JSONDecodeError as exc:
                raise UnrecognisedEvent(f"the body is not JSON ({exc.msg})") from None
            objects: list[ObjectEvent] = []
            delivery.test_events += _read_document(document, message_id, objects)
            delivery.objects += objects
        except UnrecognisedEvent as exc:
            delivery.unrecognised[message_id] = str(exc)
    return delivery


def _read_document(doc: Any, message_id: str | None, out: list[ObjectEvent]) -> int:
    """Append the objects `doc` announces to `out`; return 1 for an `s3:TestEvent`, else 0."""
    if not isinstance(doc, dict):
        raise UnrecognisedEvent(f"a JSON {type(doc).__name__}, not an object")
    if doc.get("Type") == "Notification" and "Message" in doc:
        message = doc["Message"]
        try:
            inner = json.loads(message) if isinstance(message, str) else None
        except json.JSONDecodeError:
            inner = None
        if not isinstance(inner, dict) or inner.get("Type") == "Notification":
            raise UnrecognisedEvent("an SNS Notification whose Message is not an S3 event")
        return _read_document(inner, message_id, out)
    if doc.get("Event") == "s3:TestEvent":
        return 1
    if "Records" in doc:
        out += _notification_records(doc["Records"], message_id)
        return 0
    if doc.get("source") == "aws.s3" and "detail-type" in doc:
        out.append(_eventbridge_object(doc, message_id))
        return 0
    keys = ", ".join(sorted(map(str, doc))[:8]) or "none"
    raise UnrecognisedEvent(
        "neither an S3 notification (Records), an s3:TestEvent, an SNS Notification nor an "
        f"EventBridge aws.s3 event (keys: {keys})"
    )


def _notification_records(records: Any, message_id: str | None) -> list[ObjectEvent]:
    if not isinstance(records, list) or not records:
        raise UnrecognisedEvent("Records is not a non-empty list")
    found = []
    for i, record in enumerate(records):
        if not isinstance(record, dict) or record.get("eventSource") != "aws:s3":
            source = record.get("eventSource") if isinstance(record, dict) else record
            raise UnrecognisedEvent(f"Records[{i}] has eventSource {source!r}, not 'aws:s3'")
        name = record.get("eventName")
        bucket = _path(record, ("s3", "bucket", "name"))
        key = _path(record, ("s3", "object", "key"))
        if not isinstance(name, str) or bucket is None or key is None:
            raise UnrecognisedEvent(
                f"Records[{i}] lacks eventName, s3.bucket.name or s3.object.key"
            )
        kind = (
            CREATED
            if name.startswith("ObjectCreated:")
            else REMOVED
            if name.startswith(("ObjectRemoved:", "LifecycleExpiration:"))
            else OTHER
        )
        found.append(ObjectEvent(bucket, unquote_plus(key), kind, message_id))
    return found


def _eventbridge_object(doc: dict[str, Any], message_id: str | None) -> ObjectEvent:
    bucket = _path(doc, ("detail", "bucket", "name"))
    key = _path(doc, ("detail", "object", "key"))
    if bucket is None or key is None:
        raise UnrecognisedEvent("an EventBridge aws.s3 event without detail.bucket.name/object.key")
    kind = {"Object Created": CREATED, "Object Deleted": REMOVED}.get(doc["detail-type"], OTHER)
    return ObjectEvent(bucket, key, kind, message_id)  # EventBridge keys are not URL-encoded


def _path(doc: dict[str, Any], names: tuple[str, ...]) -> str | None:
    """The non-empty string at a nested path, or None."""
    value: Any = doc
    for name in names:
        value = value.get(name) if isinstance(value, dict) else None
    return value if isinstance(value, str) and value else None
