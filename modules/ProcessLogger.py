"""Structured (JSON) logging through aws-lambda-powertools' Logger, on stderr.

One Logger for the whole process: powertools attaches its handler once per service name, so
warm invocations do not stack handlers, and each line is a JSON object CloudWatch Logs
Insights can query (`filter table = "events" | stats sum(created)`).
"""

from __future__ import annotations

import os
import sys

from aws_lambda_powertools import Logger

SERVICE = "glue-catalog-partition-management"

# stderr: Lambda sends it to CloudWatch like stdout, and the command line keeps stdout for the
# summary JSON alone.
_logger = Logger(
    service=SERVICE, level=os.environ.get("LOG_LEVEL", "INFO").upper(), stream=sys.stderr
)


def get_logger() -> Logger:
    """The process-wide logger, at the level `LOG_LEVEL` asks for right now."""
    _logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    return _logger
