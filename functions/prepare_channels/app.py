"""Lambda handler of channel preparation (a step of the retraining workflow)."""

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from channels import PrepareSettings, prepare_channels

from conveyor.retraining import RetrainingInput

logger = Logger()
tracer = Tracer()
settings = PrepareSettings.from_env()


@logger.inject_lambda_context(correlation_id_path="run_id", clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=RetrainingInput)
def handler(event: RetrainingInput, context: LambdaContext) -> dict[str, Any]:
    channels = prepare_channels(settings, event)
    logger.info("channels prepared", rows=channels.rows)
    return channels.model_dump()
