"""Lambda handler of scheduled retraining (invoked by EventBridge Scheduler)."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from scheduling import ScheduleSettings, run_schedule

from conveyor.state.ledger import Ledger
from conveyor.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()
metrics = Metrics()
settings = ScheduleSettings.from_env()
ledger = Ledger(settings.state_table_name)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    started = run_schedule(settings, ledger, datetime.now(UTC))
    metrics.add_metric(name="ScheduledRunsStarted", unit=MetricUnit.Count, value=len(started))
    return {"started_runs": started}
