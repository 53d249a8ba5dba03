"""Lambda handler of the edge controller: the edge workflow's plan, its waits, and the publication."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from publication import PublishRequest, publish
from targets import EdgeSettings, ReleaseInput, plan
from waits import canary_outcome, compilation, rollout

from conveyor.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()
metrics = Metrics()
settings = EdgeSettings.from_env()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    now = datetime.now(UTC)
    step = event.get("step")
    if step == "plan":
        planned = plan(settings, ReleaseInput.model_validate(event["release"]))
        if not planned.enabled:
            logger.warning("edge release is off", reason=planned.reason)
        return planned.model_dump(mode="json")
    if step == "compilation":
        return compilation(settings, event["job_name"], event["label"], now=now).model_dump(mode="json")
    if step == "canary":
        started = datetime.fromisoformat(event["started"])
        return canary_outcome(settings, int(event["version"]), started, now=now).model_dump(mode="json")
    if step == "publish":
        publication = publish(settings, PublishRequest.model_validate(event))
        logger.info("edge component published", publication=publication.model_dump(mode="json"))
        metrics.add_metric(name="EdgeComponentsPublished", unit=MetricUnit.Count, value=int(publication.deployed))
        return publication.model_dump(mode="json")
    if step == "rollout":
        watched = rollout(settings, event["iot_job_id"], now=now)
        finished = "Finished" if watched.finished else "Unfinished"
        metrics.add_metric(name=f"EdgeRollouts{finished}", unit=MetricUnit.Count, value=1)
        for outcome, count in watched.device_outcomes().items():
            metrics.add_metric(name=f"EdgeDevices{outcome}", unit=MetricUnit.Count, value=count)
        return watched.model_dump(mode="json")
    raise ValueError(f"unknown edge controller step {step!r}: plan, compilation, canary, publish or rollout")
