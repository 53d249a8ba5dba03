"""Lambda handler of upload ingestion (EventBridge "Object Created" events for incoming/)."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from ingestion import IngestSettings, ingest

from conveyor.events import ObjectCreated
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
    upload = ObjectCreated.model_validate(event)
    result = ingest(settings, schema, ledger, upload.detail.object, datetime.now(UTC))
    logger.info("object ingested", report=result.model_dump())
    metrics.add_metric(name="RowsAccepted", unit=MetricUnit.Count, value=result.rows_accepted)
    metrics.add_metric(name="RowsSetAside", unit=MetricUnit.Count, value=result.rows_set_aside)
    for feature in result.drift.features if result.drift else []:
        # One metric per feature, for the dashboard's population stability index per feature
        with single_metric(
            name="FeaturePSI", unit=MetricUnit.NoUnit, value=feature.psi, namespace=metrics.namespace
        ) as metric:
            metric.add_dimension(name="Feature", value=feature.name)
    return result.model_dump(mode="json")
