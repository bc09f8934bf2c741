"""Runs this project's full reconcile as a chain of invocations that the deadline cuts: each
invocation's context lets `--per-run` new partitions through before less than the margin
remains, and the next invocation is run with the `continuation` event the last one returned,
until none is left.

    python this_cut.py --database raw_x --per-run 250

Prints the summaries as a JSON list; exits 1 if the chain did not end within --most links.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


class Context:
    """A Lambda context whose remaining time falls a second at each look."""

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        value = self.remaining_ms
        self.remaining_ms -= 1000
        return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--per-run", type=int, default=250)
    parser.add_argument("--most", type=int, default=20)
    args = parser.parse_args(argv)

    import main as handler_module
    from modules.Settings import Settings

    margin_ms = int(Settings.from_env().time_margin_seconds * 1000)
    event = {"databases": [args.database], "full_scan": True}
    summaries = []
    for _ in range(args.most):
        summary = handler_module.lambda_handler(event, Context(margin_ms + args.per_run * 1000))
        summaries.append(summary)
        if not summary["continuation"]:
            break
        (event,) = summary["continuation"]
    json.dump(summaries, sys.stdout, default=str)
    return 0 if not summaries[-1]["continuation"] else 1


if __name__ == "__main__":
    sys.exit(main())
