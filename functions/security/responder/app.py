"""Lambda handler of the security responder (CloudTrail events that may tamper with the stack)."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from incident import respond
from stack_facts import ResponderSettings

from conveyor.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()
metrics = Metrics()
settings = ResponderSettings.from_env()


@logger.inject_lambda_context(correlation_id_path="detail.eventID", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    metrics.add_metric(name="TrailEventsReceived", unit=MetricUnit.Count, value=1)
    outcome = respond(settings, event, now=datetime.now(UTC))
    if outcome.status == "ignored":
        logger.info("event ignored", reason=outcome.reason, detail=outcome.detail, event_id=_id(event))
        with single_metric(
            name="EventsIgnored", unit=MetricUnit.Count, value=1, default_dimensions=metrics.default_dimensions
        ) as metric:
            metric.add_dimension(name="reason", value=outcome.reason or "unknown")
    elif outcome.status == "duplicate":
        logger.info("duplicate event: finding already handled", finding_id=outcome.finding_id)
        metrics.add_metric(name="DuplicateEvents", unit=MetricUnit.Count, value=1)
    else:
        logger.warning("security finding", outcome=outcome.model_dump())
        metrics.add_metric(name="SecurityFindings", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="SettingsRestored", unit=MetricUnit.Count, value=len(outcome.remediated))
    return outcome.model_dump(mode="json")


def _id(event: Any) -> Any:
    return event.get("id") if isinstance(event, dict) else None
