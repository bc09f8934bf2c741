"""Runs glutil 1.0.0 the way its Lambda and CLI do: `Partitioner` + `create_found_partitions`, one
table after another, in full mode (`--limit-days 0`) or with a time window (`--limit-days 1`).

glutil is installed by the benchmark under bench/.work/glutil and found through PYTHONPATH; it
reads the endpoint from AWS_ENDPOINT_URL like any boto3 program.

    python glutil_runner.py --database raw_x --table t1 --table t2 [--limit-days 1]
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from glutil.partitioner import Partitioner
from glutil.serverless_function import create_found_partitions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--table", action="append", required=True)
    parser.add_argument("--limit-days", type=int, default=0)
    args = parser.parse_args(argv)
    # glutil reports with print(); keep stdout for results and send its chatter to stderr.
    with contextlib.redirect_stdout(sys.stderr):
        for table in args.table:
            create_found_partitions(Partitioner(args.database, table), limit_days=args.limit_days)
    return 0


if __name__ == "__main__":
    sys.exit(main())
