"""Runs this project's Lambda entry point in event mode, as an SQS event source mapping would:
import main, then one handler call per prepared batch of S3 notifications.

    python this_events.py batch-001.json [batch-002.json ...]

Prints the handler's responses (a list, one per batch) as JSON. context is None, so the handler
has no time budget. A handler that refuses the event fails the run (exit code 1, the error on
stderr), which the benchmark reports as a wrong run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("batches", nargs="+", type=Path, help="Lambda SQS events, one per file")
    args = parser.parse_args(argv)

    import main as handler_module

    responses = [
        handler_module.lambda_handler(json.loads(path.read_text()), None) for path in args.batches
    ]
    json.dump(responses, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
