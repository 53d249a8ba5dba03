"""Lambda handler of model evaluation (a step of the retraining workflow)."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from evaluation import EvaluateSettings, EvaluationInput, evaluate

from conveyor.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()
metrics = Metrics()
settings = EvaluateSettings.from_env()


@logger.inject_lambda_context(correlation_id_path="run_id", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = EvaluationInput.model_validate(event)
    evaluation = evaluate(settings, request)
    logger.info(
        "model evaluated",
        decision=evaluation.decision,
        reasons=evaluation.reasons,
        notes=evaluation.notes,
        rows_scored=evaluation.rows_scored,
    )
    metrics.add_metric(name=f"Models{evaluation.decision}", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ObjectiveMetric", unit=MetricUnit.NoUnit, value=evaluation.metric_value)
    return evaluation.model_dump()
