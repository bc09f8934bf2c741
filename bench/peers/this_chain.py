"""Runs this project's handler as a chain: one invocation after another, each with the
`continuation` the one before returned (as a parent Lambda or Step Functions loops over it, or
CONTINUE_ASYNC does), every link starting tables for --link-seconds of real time (its context's
remaining time is that plus TIME_MARGIN_SECONDS), until nothing is left.

    python this_chain.py --database raw_x --link-seconds 5

Prints the totals and {"bench": {"critical_path_s", "invocations"}} as JSON. The critical path
is the sum of the links' handler times, since each link waits for the one before; interpreter
start and imports are left out, as they are from the fan-out's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


class Deadline:
    """A Lambda context whose remaining time runs out `seconds` after it is made."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.end - time.monotonic()) * 1000))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--link-seconds", type=float, required=True)
    args = parser.parse_args(argv)

    import main as handler_module
    from modules.Settings import Settings

    budget = args.link_seconds + Settings.from_env().time_margin_seconds
    events: list[dict[str, Any]] = [{"databases": [args.database]}]
    created = invocations = 0
    critical = 0.0
    while events:
        event = events.pop(0)
        start = time.perf_counter()
        with redirect_stdout(sys.stderr):  # the metrics: stdout is for this run's JSON
            summary = handler_module.lambda_handler(event, Deadline(budget))
        critical += time.perf_counter() - start
        invocations += 1
        created += summary["totals"]["created"]
        if summary["continuation"] and not summary["tables"]:
            print("a link started no table: the chain would never end", file=sys.stderr)
            return 1
        events += summary["continuation"]
    measures = {"critical_path_s": round(critical, 3), "invocations": invocations}
    json.dump({"totals": {"created": created}, "bench": measures}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
