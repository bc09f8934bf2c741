"""A loopback HTTP proxy between boto3 and the moto server that injects AWS faults.

boto3 talks to the proxy (`AWS_ENDPOINT_URL`), the proxy forwards to moto and, by seeded
rates and fixed rules, answers instead with Glue `ThrottlingException`, per-item
`InternalServiceException` in `BatchCreatePartition`, S3 `SlowDown`, plain 500s, dropped
connections, `AccessDenied`, or adds latency. Every decision comes from a `random.Random`
seeded with the proxy's seed, the request's content and how often that same request was seen,
so a run repeats its faults even though worker threads interleave differently.

Each request is recorded (`Record`): operation, fault, and for `BatchCreatePartition` the
partition values forwarded to moto and those whose creation the client was told about.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import random
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

Values = tuple[str, ...]

GLUE_WRITES = ("Batch", "Create", "Delete", "Update")
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class Faults:
    """What to inject: shares of requests (0..1) and fixed rules."""

    glue_throttle: float = 0.0  # Glue calls answered ThrottlingException (400)
    batch_partial: float = 0.0  # BatchCreatePartition calls with some items failed
    s3_slowdown: float = 0.0  # S3 listings answered SlowDown (503)
    server_error: float = 0.0  # any call answered a plain 500
    drop: float = 0.0  # any call whose connection is closed without an answer
    latency: tuple[float, float] = (0.0, 0.0)  # seconds added to every call, uniform
    deny_glue_writes: bool = False  # every Glue write answered AccessDeniedException
    deny_s3_buckets: frozenset[str] = frozenset()  # every S3 call to these answered AccessDenied
    deny_s3_listings: tuple[tuple[str, str], ...] = ()  # (bucket, prefix start) listings refused
    rule: Callable[[Request], str | None] | None = None  # a fault name for a request, or None


@dataclass
class Record:
    """One request as the proxy saw it."""

    service: str  # "glue" or "s3"
    operation: str
    fault: str | None = None  # what was injected, if anything
    status: int | None = None  # HTTP status sent back (None: connection dropped)
    bucket: str | None = None
    table: str | None = None  # Glue TableName
    prefix: str | None = None  # ListObjectsV2 Prefix
    items: int = 0  # batch size the client sent
    sent: list[Values] = field(default_factory=list)  # BatchCreatePartition items the client sent
    forwarded: list[Values] = field(default_factory=list)  # batch items sent on to moto
    created: list[Values] = field(default_factory=list)  # items moto created
    confirmed: list[Values] = field(default_factory=list)  # created, and the client was told
    delivered: bool = False  # the answer reached the client
    arrived: int = 0  # sequence number when the request arrived
    answered: int | None = None  # sequence number once the answer was sent


@dataclass
class Request:
    """A request as the proxy read it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    service: str
    operation: str
    bucket: str | None
    query: dict[str, list[str]]
    payload: dict[str, Any] | None  # a Glue request's JSON body


class LoopbackProxy:
    """A threaded HTTP server on 127.0.0.1 (free port) in front of `upstream`; use as a context
    manager or start/stop. Subclasses give the request handler and keep `records`."""

    handler: type[BaseHandler]

    def __init__(self, upstream: str, seed: int = 0) -> None:
        self.upstream = urlsplit(upstream)
        self.seed = seed
        self.records: list[Any] = []
        self._seen: Counter[str] = Counter()
        self._sequence = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def endpoint(self) -> str:
        """The URL to give boto3."""
        assert self._server is not None, "the proxy is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        """Listen on a free loopback port in a background thread."""
        handler = type("Handler", (self.handler,), {"owner": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ queries

    def calls(self, operation: str | None = None) -> list[Any]:
        """The records (of one operation, if given), in arrival order."""
        with self._lock:
            return [r for r in self.records if operation in (None, r.operation)]

    def repeats(self) -> Counter[str]:
        """How often each distinct request (by content) arrived: above 1 means resent."""
        with self._lock:
            return Counter(self._seen)

    def next_sequence(self) -> int:
        """A number that grows with every arrival and every answer."""
        with self._lock:
            self._sequence += 1
            return self._sequence

    def _rng(self, request: Request) -> random.Random:
        """A generator seeded by the seed, the request's content and its repetition."""
        digest = hashlib.sha256(
            request.method.encode() + request.path.encode() + request.body
        ).hexdigest()
        with self._lock:
            self._seen[digest] += 1
            n = self._seen[digest]
        return random.Random(f"{self.seed}:{digest}:{n}")


class FaultProxy(LoopbackProxy):
    """Injects faults between boto3 and `upstream`."""

    def __init__(
        self,
        upstream: str,
        faults: Faults | None = None,
        seed: int = 0,
        on_forward: Callable[[Record, dict[str, Any] | None], None] | None = None,
    ) -> None:
        super().__init__(upstream, seed)
        self.handler = _Handler
        self.faults = faults or Faults()
        self.on_forward = on_forward  # called before a Glue request goes on to moto
        self.records: list[Record] = []

    def calls(self, operation: str | None = None) -> list[Record]:
        return super().calls(operation)

    def fault_counts(self) -> Counter[str]:
        """How many times each fault was injected."""
        return Counter(r.fault for r in self.calls() if r.fault)

    # ------------------------------------------------------------------ decisions

    def _decide(self, request: Request, rng: random.Random) -> str | None:
        """The fault for this request, or None to forward it untouched."""
        f = self.faults
        draws = [rng.random() for _ in range(5)]  # always the same number of draws
        if f.rule is not None and (fault := f.rule(request)):
            return fault
        if request.service == "glue":
            if f.deny_glue_writes and request.operation.startswith(GLUE_WRITES):
                return "AccessDeniedException"
        else:
            if request.bucket in f.deny_s3_buckets:
                return "AccessDenied"
            prefix = request.query.get("prefix", [""])[0]
            if request.operation == "ListObjectsV2" and any(
                request.bucket == b and prefix.startswith(p) for b, p in f.deny_s3_listings
            ):
                return "AccessDenied"
        if draws[0] < f.drop:
            return "drop"
        if draws[1] < f.server_error:
            return "500"
        if request.service == "glue" and draws[2] < f.glue_throttle:
            return "ThrottlingException"
        if request.operation == "ListObjectsV2" and draws[3] < f.s3_slowdown:
            return "SlowDown"
        if request.operation == "BatchCreatePartition" and draws[4] < f.batch_partial:
            return "InternalServiceException"
        return None


def _classify(method: str, path: str, headers: dict[str, str]) -> tuple[str, str, str | None]:
    """(service, operation, bucket) of a request: Glue by X-Amz-Target, else S3 REST."""
    target = headers.get("x-amz-target", "")
    if target.startswith("AWSGlue."):
        return "glue", target.split(".", 1)[1], None
    parts = urlsplit(path)
    bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
    query = parse_qs(parts.query, keep_blank_values=True)
    if method == "GET" and not key:
        operation = "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
    else:
        operation = {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject"}.get(
            method, method
        )
        if not key:
            operation = {"HEAD": "HeadBucket", "PUT": "CreateBucket"}.get(method, operation)
    return "s3", operation, bucket or None


def _glue_error(code: str, message: str, status: int = 400) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"__type": code, "message": message}).encode()
    return status, {"Content-Type": "application/x-amz-json-1.1"}, body


def _s3_error(code: str, message: str, status: int) -> tuple[int, dict[str, str], bytes]:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<RequestId>{uuid.uuid4().hex[:16]}</RequestId></Error>"
    ).encode()
    return status, {"Content-Type": "application/xml"}, body


def _injected_answer(fault: str, request: Request) -> tuple[int, dict[str, str], bytes]:
    """The whole answer for a fault that keeps the request away from moto."""
    glue = request.service == "glue"
    if fault == "ThrottlingException":
        return _glue_error(fault, "Rate exceeded")
    if fault == "AccessDeniedException":
        return _glue_error(fault, f"User is not authorized to perform: glue:{request.operation}")
    if fault == "SlowDown":
        return _s3_error(fault, "Please reduce your request rate.", 503)
    if fault == "AccessDenied":
        return _s3_error(fault, "Access Denied", 403)
    if glue:
        return _glue_error("InternalServiceException", "Internal failure", 500)
    return _s3_error("InternalError", "We encountered an internal error.", 500)


class BaseHandler(BaseHTTPRequestHandler):
    """Reads a request, forwards it upstream and writes an answer; subclasses decide (`_handle`)."""

    owner: LoopbackProxy
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: with Nagle's algorithm on, each answer would
    # wait for the client's delayed ACK (~40 ms a call).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the records are the log."""

    def do_GET(self) -> None:
        self._handle()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_GET

    def _read_request(self) -> Request:
        headers = {k.lower(): v for k, v in self.headers.items()}
        length = int(headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        service, operation, bucket = _classify(self.command, self.path, headers)
        query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        payload = json.loads(body) if service == "glue" and body else None
        return Request(
            self.command, self.path, headers, body, service, operation, bucket, query, payload
        )

    def _handle(self) -> None:
        raise NotImplementedError

    def _upstream(
        self, request: Request, body: bytes, target: str | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """Send the request (with `body`, and as Glue operation `target` if given) upstream."""
        upstream = self.owner.upstream
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
            headers["Host"] = self.headers.get("Host", upstream.netloc)
            headers["Content-Length"] = str(len(body))
            if target is not None:
                headers = {k: v for k, v in headers.items() if k.lower() != "x-amz-target"}
                headers["X-Amz-Target"] = f"AWSGlue.{target}"
            conn.request(request.method, request.path, body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            kept = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_HEADERS}
            if request.method == "HEAD":  # a HEAD answer's length is the object's, not its body's
                kept["Content-Length"] = response.getheader("Content-Length", "0")
            kept.pop("x-amz-crc32", None)
            return response.status, kept, answer
        finally:
            conn.close()

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if self.command != "HEAD" or "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()


class _Handler(BaseHandler):
    owner: FaultProxy

    def _handle(self) -> None:
        proxy = self.owner
        request = self._read_request()
        payload = request.payload or {}
        record = Record(request.service, request.operation, bucket=request.bucket)
        record.prefix = request.query.get("prefix", [None])[0]
        record.table = payload.get("TableName")
        items = payload.get("PartitionInputList") or payload.get("PartitionsToDelete") or ()
        record.items = len(items)
        if request.operation == "BatchCreatePartition":
            record.sent = [tuple(p["Values"]) for p in items]
        record.arrived = proxy.next_sequence()
        with proxy._lock:
            proxy.records.append(record)
        rng = proxy._rng(request)
        low, high = proxy.faults.latency
        if high > 0:
            time.sleep(rng.uniform(low, high))
        fault = proxy._decide(request, rng)
        record.fault = fault
        if fault == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault in (None, "InternalServiceException"):
            status, headers, body = self._forward(request, record, rng if fault else None)
        else:
            status, headers, body = _injected_answer(fault, request)
        self._answer(status, headers, body, record)

    def _forward(
        self, request: Request, record: Record, partial: random.Random | None
    ) -> tuple[int, dict[str, str], bytes]:
        """Send the request on to moto; with `partial`, fail a random part of a batch."""
        body, failed, payload = request.body, [], request.payload
        batch = (payload or {}).get("PartitionInputList")
        if request.operation == "BatchCreatePartition" and batch is not None:
            if partial is not None:
                n_fail = partial.randint(1, max(1, len(batch) - 1))
                chosen = set(partial.sample(range(len(batch)), n_fail))
                failed = [p for i, p in enumerate(batch) if i in chosen]
                batch = [p for i, p in enumerate(batch) if i not in chosen]
                payload = {**payload, "PartitionInputList": batch}
                body = json.dumps(payload).encode()
            record.forwarded = [tuple(p["Values"]) for p in batch]
        if request.service == "glue" and self.owner.on_forward is not None:
            self.owner.on_forward(record, payload)
        if batch == [] and failed:
            status, headers, answer = 200, {"Content-Type": "application/x-amz-json-1.1"}, b"{}"
        else:
            status, headers, answer = self._upstream(request, body)
        if record.items and request.operation == "BatchCreatePartition" and status == 200:
            response = json.loads(answer or b"{}")
            errors = response.setdefault("Errors", [])
            refused = {tuple(e["PartitionValues"]) for e in errors}
            record.created = [v for v in record.forwarded if v not in refused]
            errors += [
                {
                    "PartitionValues": p["Values"],
                    "ErrorDetail": {
                        "ErrorCode": "InternalServiceException",
                        "ErrorMessage": "Internal service error (injected)",
                    },
                }
                for p in failed
            ]
            answer = json.dumps(response).encode()
        return status, headers, answer

    def _answer(self, status: int, headers: dict[str, str], body: bytes, record: Record) -> None:
        self._send(status, headers, body)
        record.status = status
        record.delivered = True
        record.confirmed = list(record.created)
        record.answered = self.owner.next_sequence()


@contextmanager
def running(
    upstream: str, faults: Faults | None = None, seed: int = 0, **kwargs: Any
) -> Iterator[FaultProxy]:
    """A started proxy, stopped on exit."""
    proxy = FaultProxy(upstream, faults, seed, **kwargs)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
