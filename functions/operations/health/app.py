"""Lambda handler of the health function."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from health import HealthSettings, check_health

from conveyor.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()
metrics = Metrics()
settings = HealthSettings.from_env()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = check_health(settings, request_id=context.aws_request_id)
    metrics.add_metric(name="HealthChecks", unit=MetricUnit.Count, value=1)
    return report.model_dump(mode="json")
