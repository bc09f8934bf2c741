"""CloudWatch metrics in Embedded Metric Format, through aws-lambda-powertools' Metrics.

One metric set per database per invocation, with the database and the service as the only
dimensions: a dimension per table would make a custom metric per table, which costs real money
on a lake of thousands. Per-table lag is in the log lines instead (see the README for a Logs
Insights query that charts it). Powertools prints each set on stdout, which Lambda sends to
CloudWatch Logs, where the metrics are extracted; the command line routes stdout to stderr
while the handler runs, so its own stdout stays the summary alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

from modules.ProcessLogger import SERVICE
from modules.TableReport import TableResult

# metric name -> the per-table count it adds up
COUNT_METRICS = {
    "PartitionsCreated": "created",
    "PartitionsFailed": "failed",
    "PartitionsRemoved": "removed",
    "PartitionsExpired": "expired",
    "PathsSkipped": "skipped",
}


# event mode: metric name -> the invocation's counter it reports
EVENT_METRICS = {
    "EventMessages": "messages",
    "EventRecords": "records",
    "EventObjectsUnmatched": "unmatched",
    "EventMessagesFailed": "failed_messages",
}


def publish(
    results: Iterable[TableResult], namespace: str, events: dict[str, int] | None = None
) -> None:
    """Emit one metric set per database of the run's results; in event mode also one set for
    the invocation's record counts (dimension: the service only, as they span databases)."""
    by_database: dict[str, list[TableResult]] = {}
    for result in results:
        by_database.setdefault(result.database, []).append(result)
    for database, tables in by_database.items():
        metrics = _metric_set(namespace)
        metrics.add_dimension(name="database", value=database)
        for name, count in COUNT_METRICS.items():
            metrics.add_metric(name, MetricUnit.Count, sum(getattr(t, count) for t in tables))
        metrics.add_metric(
            "TablesFailed", MetricUnit.Count, sum(t.status == "failed" for t in tables)
        )
        metrics.add_metric("StaleTables", MetricUnit.Count, sum(t.stale for t in tables))
        lags = [t.lag_seconds for t in tables if t.lag_seconds is not None]
        if lags:  # no value rather than a misleading 0 when no table has time keys
            metrics.add_metric("MaxLagSeconds", MetricUnit.Seconds, max(lags))
        metrics.flush_metrics()
    if events is not None:
        metrics = _metric_set(namespace)
        for name, counter in EVENT_METRICS.items():
            metrics.add_metric(name, MetricUnit.Count, events.get(counter, 0))
        metrics.flush_metrics()


def _metric_set(namespace: str) -> Metrics:
    """An empty metric set with a provider of its own: Metrics' default state is shared by
    every instance, so sets built one after another would mix."""
    return Metrics(provider=AmazonCloudWatchEMFProvider(namespace=namespace, service=SERVICE))
