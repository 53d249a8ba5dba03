"""Lambda handler of the unfreeze function, invoked by an operator who has looked at a finding."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from thaw import UnfreezeRequest, UnfreezeSettings, unfreeze

from conveyor.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()
metrics = Metrics()
settings = UnfreezeSettings.from_env()


@logger.inject_lambda_context(correlation_id_path="finding_id", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = UnfreezeRequest.model_validate(event)
    report = unfreeze(settings, request, now=datetime.now(UTC))
    logger.info("finding acknowledged", report=report.model_dump(mode="json"))
    metrics.add_metric(name="FindingsAcknowledged", unit=MetricUnit.Count, value=1)
    if not report.frozen:
        metrics.add_metric(name="FreezesLifted", unit=MetricUnit.Count, value=1)
    return report.model_dump(mode="json")
