"""Lambda handler of the Firehose transform."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from transform import TransformSettings, record_reasons, transform_batch

from conveyor.events import FirehoseTransformation
from conveyor.schema import load_schema
from conveyor.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()
metrics = Metrics()
settings = TransformSettings.from_env()
schema = load_schema(settings.feature_schema)


@logger.inject_lambda_context(correlation_id_path="invocationId", clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    invocation = FirehoseTransformation.model_validate(event)
    batch = transform_batch(schema, ((record.record_id, record.data) for record in invocation.records))
    reasons_key = record_reasons(settings.data_bucket_name, invocation.invocation_id, batch, datetime.now(UTC))
    if reasons_key is not None:
        logger.warning("records set aside", reasons=f"s3://{settings.data_bucket_name}/{reasons_key}")
    for result, count in batch.counts().items():
        metrics.add_metric(name=f"Records{result}", unit=MetricUnit.Count, value=count)
    return batch.response()
