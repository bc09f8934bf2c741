"""Runs this project's Lambda entry point once, as Lambda would: import main, call the handler.

    python this_project.py --database raw_x [--full-scan]

Prints the handler's summary as JSON. context is None, so the handler has no time budget.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--full-scan", action="store_true")
    args = parser.parse_args(argv)

    import main as handler_module

    event = {"databases": [args.database], "full_scan": args.full_scan, "dry_run": False}
    summary = handler_module.lambda_handler(event, None)
    json.dump(summary, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
