"""Lambda handler of start_release: the registry's package state changes start, refuse or withdraw releases."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from release import StartReleaseSettings, handle

from conveyor.events import ModelPackageStateChange
from conveyor.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()
metrics = Metrics()
settings = StartReleaseSettings.from_env()


@logger.inject_lambda_context(correlation_id_path="detail.ModelPackageArn", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = ModelPackageStateChange.model_validate(event)
    report = handle(settings, change, now=datetime.now(UTC))
    logger.info(f"release {report.outcome}", report=report.model_dump())
    metrics.add_metric(name=f"Releases{report.outcome.title().replace('_', '')}", unit=MetricUnit.Count, value=1)
    return report.model_dump()
