"""Lambda handler of the canary controller: the canary workflow's steps, alarms, and the bake's heartbeat."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from controller import AlarmStateChange, WorkflowStep, begin_bake, heartbeat, on_alarm, record_step
from planning import CanarySettings, ReleaseInput, plan

from conveyor.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()
metrics = Metrics()
settings = CanarySettings.from_env()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    now = datetime.now(UTC)
    kind = event.get("detail-type")
    if kind == "CloudWatch Alarm State Change":
        outcome = on_alarm(settings, AlarmStateChange.model_validate(event), now=now)
        logger.warning("canary alarm", outcome=outcome.model_dump(mode="json"))
        metrics.add_metric(name="CanaryAlarms", unit=MetricUnit.Count, value=1)
        if outcome.action == "rolled_back":
            metrics.add_metric(name="CanariesRolledBack", unit=MetricUnit.Count, value=1)
        return outcome.model_dump(mode="json")
    if event.get("heartbeat") is True:
        beats = heartbeat(settings, now=now)
        metrics.add_metric(name="CanaryHeartbeats", unit=MetricUnit.Count, value=len(beats))
        return [beat.model_dump(mode="json") for beat in beats]
    if "plan" in event:
        metrics.add_metric(name="CanariesPlanned", unit=MetricUnit.Count, value=1)
        return plan(settings, ReleaseInput.model_validate(event["plan"]), now=now).model_dump(mode="json")
    if "bake" in event:
        bake = event["bake"]
        metrics.add_metric(name="CanariesBaking", unit=MetricUnit.Count, value=1)
        return begin_bake(settings, int(bake["version"]), str(bake["task_token"]), now=now).model_dump(mode="json")
    outcome = record_step(settings, WorkflowStep.model_validate(event), now=now)
    logger.info(f"canary {outcome.action}", outcome=outcome.model_dump(mode="json"))
    metrics.add_metric(name="CanarySteps", unit=MetricUnit.Count, value=1)
    return outcome.model_dump(mode="json")
