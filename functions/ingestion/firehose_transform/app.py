"""Lambda handler of the Firehose transform."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from transform import TransformSettings, transform

from conveyor.events import FirehoseTransformation
from conveyor.schema import load_schema
from conveyor.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()
metrics = Metrics()
settings = TransformSettings.from_env()
schema = load_schema(settings.feature_schema)
# The log names the most frequent dropped fields only, each cut short: producers choose the names.
LOGGED_FIELDS = 10
LOGGED_NAME_CHARS = 64


@logger.inject_lambda_context(correlation_id_path="invocationId", clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    invocation = FirehoseTransformation.model_validate(event)
    batch = transform(settings, schema, invocation, datetime.now(UTC))
    if batch.reasons_key is not None:
        logger.warning("records set aside", reasons=f"s3://{settings.data_bucket_name}/{batch.reasons_key}")
    for result, count in batch.counts().items():
        metrics.add_metric(name=f"Records{result}", unit=MetricUnit.Count, value=count)
    if rejected := batch.rejected_objects():
        metrics.add_metric(name="ObjectsRejected", unit=MetricUnit.Count, value=rejected)
    if dropped := batch.dropped_fields():
        metrics.add_metric(name="UnknownFieldsDropped", unit=MetricUnit.Count, value=dropped.total())
        fields = {name[:LOGGED_NAME_CHARS]: count for name, count in dropped.most_common(LOGGED_FIELDS)}
        logger.info("unknown fields dropped", dropped=dropped.total(), fields=fields, distinct_fields=len(dropped))
    return batch.response()
