"""Lambda handler of upload ingestion (EventBridge "Object Created" events for incoming/)."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from ingestion import IngestSettings, ingest_object

from conveyor.events import ObjectCreated
from conveyor.retraining import start_due_runs
from conveyor.schema import load_schema
from conveyor.state.ledger import Ledger
from conveyor.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()
metrics = Metrics()
settings = IngestSettings.from_env()
schema = load_schema(settings.feature_schema)
ledger = Ledger(settings.state_table_name)


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    s3_object = ObjectCreated.model_validate(event).detail.object
    now = datetime.now(UTC)
    report = ingest_object(
        settings,
        schema,
        ledger,
        key=s3_object.key,
        version=s3_object.version_id or s3_object.etag or "null",
        size=s3_object.size or 0,
        now=now,
    )
    logger.info("object ingested", report=report.model_dump())
    metrics.add_metric(name="RowsAccepted", unit=MetricUnit.Count, value=report.rows_accepted)
    metrics.add_metric(name="RowsSetAside", unit=MetricUnit.Count, value=report.rows_set_aside)
    started = start_due_runs(
        ledger,
        bucket=settings.data_bucket_name,
        state_machine_arn=settings.retraining_state_machine_arn,
        min_rows=settings.min_new_rows,
        trigger="threshold",
        now=now,
    )
    return {**report.model_dump(mode="json"), "started_runs": started}
