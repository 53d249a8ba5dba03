"""The per-variant invocation metrics SageMaker publishes to CloudWatch (namespace AWS/SageMaker).

Each request routed to a variant publishes, at its own stack-time moment and with dimensions
EndpointName and VariantName: Invocations (1), Invocation4XXErrors and Invocation5XXErrors (1 or
0: SageMaker sends 0 for a request that did not fail, so an error rate has both terms),
ModelLatency and OverheadLatency (microseconds). The datapoints are stored as PutMetricData
stores them, so alarm evaluation and GetMetricStatistics read them like any other.
"""

from __future__ import annotations

from datetime import UTC, datetime

from moto.cloudwatch.models import cloudwatch_backends

NAMESPACE = "AWS/SageMaker"


def publish_invocation(
    account_id: str,
    region: str,
    *,
    endpoint_name: str,
    variant_name: str,
    at: datetime,
    status: int,
    model_latency_us: float,
    overhead_latency_us: float,
) -> None:
    """Publish the metrics of one request that ``variant_name`` answered with HTTP ``status``."""
    dimensions = [{"Name": "EndpointName", "Value": endpoint_name}, {"Name": "VariantName", "Value": variant_name}]
    # PutMetricData stores timestamps as naive UTC datetimes.
    timestamp = at.astimezone(UTC).replace(tzinfo=None)
    values = [
        ("Invocations", 1.0, "None"),
        ("Invocation4XXErrors", float(400 <= status < 500), "None"),
        ("Invocation5XXErrors", float(status >= 500), "None"),
        ("ModelLatency", model_latency_us, "Microseconds"),
        ("OverheadLatency", overhead_latency_us, "Microseconds"),
    ]
    cloudwatch_backends[account_id][region].put_metric_data(
        NAMESPACE,
        [
            {"MetricName": name, "Value": value, "Unit": unit, "Dimensions": dimensions, "Timestamp": timestamp}
            for name, value, unit in values
        ],
    )
