"""Counts every HTTP request botocore sends, retries included, by operation.

The benchmark puts this folder on PYTHONPATH of each child it runs, so the same count works for
this project, glutil and awswrangler without touching their code. botocore emits `before-send`
once per attempt; a handler registered on every botocore Session reaches every client made from
it. botocore is patched only when something imports it, so the hook adds no import time of its own.
The counts are written as JSON to $BENCH_CALLS_FILE at exit.
"""

from __future__ import annotations

import atexit
import importlib.abc
import importlib.util
import json
import os
import sys
import threading
from collections import Counter
from types import ModuleType
from typing import Any

_counts: Counter[str] = Counter()
_lock = threading.Lock()


def _count(event_name: str, **_: Any) -> None:
    """before-send handler: `before-send.<service>.<Operation>` -> one call of Operation."""
    operation = event_name.rsplit(".", 1)[-1]
    with _lock:
        _counts[operation] += 1


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


if os.environ.get("BENCH_CALLS_FILE"):
    sys.meta_path.insert(0, _PatchOnImport())
    atexit.register(_dump)
