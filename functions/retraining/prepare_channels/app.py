"""Lambda handler of channel preparation (a step of the retraining workflow)."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from channels import PrepareSettings, prepare_channels

from conveyor.retraining import RetrainingInput
from conveyor.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()
settings = PrepareSettings.from_env()


@logger.inject_lambda_context(correlation_id_path="run_id", clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = RetrainingInput.model_validate(event)
    channels = prepare_channels(settings, request)
    logger.info("channels prepared", rows=channels.rows)
    return channels.model_dump()
