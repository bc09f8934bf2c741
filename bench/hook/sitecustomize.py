"""Counts every HTTP request botocore sends, retries included, by operation, and delays each one
by a modelled network round trip.

The benchmark puts this folder on PYTHONPATH of each child it runs, so the same count works for
this project, glutil and awswrangler without touching their code. botocore emits `before-send`
once per attempt; a handler registered on every botocore Session reaches every client made from
it. botocore is patched only when something imports it, so the hook adds no import time of its own.
The counts are written as JSON to $BENCH_CALLS_FILE at exit.

$BENCH_LATENCY_MS (default 0) is slept in the handler, in the thread that sends the request, so it
blocks that thread as a real round trip does: sequential calls pay it one after the other,
concurrent calls from several threads overlap it. moto answers in well under a millisecond of
network, so without it a design that saves round trips or overlaps them cannot show it.
"""

from __future__ import annotations

import atexit
import importlib.abc
import importlib.util
import json
import os
import sys
import threading
import time
from collections import Counter
from types import ModuleType
from typing import Any

_counts: Counter[str] = Counter()
_lock = threading.Lock()
_latency_s = float(os.environ.get("BENCH_LATENCY_MS") or 0) / 1000


def _count(event_name: str, **_: Any) -> None:
    """before-send handler: `before-send.<service>.<Operation>` -> one call of Operation, then the
    modelled round trip (returning None lets botocore send the request as usual)."""
    operation = event_name.rsplit(".", 1)[-1]
    with _lock:
        _counts[operation] += 1
    if _latency_s > 0:
        time.sleep(_latency_s)


def _patch(module: ModuleType) -> None:
    original = module.Session.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.register("before-send", _count, unique_id="bench-call-counter")

    module.Session.__init__ = __init__


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Finds botocore.session through the normal machinery and patches it once it has loaded."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "botocore.session":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_patch(module: ModuleType) -> None:
            exec_module(module)
            _patch(module)

        spec.loader.exec_module = exec_and_patch  # type: ignore[method-assign]
        return spec


def _dump() -> None:
    with open(os.environ["BENCH_CALLS_FILE"], "w", encoding="utf-8") as out:
        json.dump(dict(_counts), out)


if os.environ.get("BENCH_CALLS_FILE") or _latency_s > 0:
    sys.meta_path.insert(0, _PatchOnImport())
if os.environ.get("BENCH_CALLS_FILE"):
    atexit.register(_dump)
