"""Structured (JSON) logging through aws-lambda-powertools' Logger.

One Logger for the whole process: powertools attaches its handler once per service name, so
warm invocations do not stack handlers, and each line is a JSON object CloudWatch Logs
Insights can query (`filter table = "events" | stats sum(created)`).
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger

SERVICE = "glue-catalog-partition-management"

_logger = Logger(service=SERVICE, level=os.environ.get("LOG_LEVEL", "INFO").upper())


def get_logger() -> Logger:
    """The process-wide logger, at the level `LOG_LEVEL` asks for right now."""
    _logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    return _logger
