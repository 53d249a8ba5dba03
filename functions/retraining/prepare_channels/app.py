"""Lambda handler of channel preparation (two steps of the retraining workflow: plan, then manifests)."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from channels import PrepareRequest, PrepareSettings, plan_compaction, write_manifests

from conveyor.state.ledger import Ledger
from conveyor.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()
settings = PrepareSettings.from_env()
ledger = Ledger(settings.state_table_name)


@logger.inject_lambda_context(correlation_id_path="run_id", clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = PrepareRequest.model_validate(event)
    if request.step == "plan":
        compaction = plan_compaction(settings, request)
        logger.info("compaction planned", groups=compaction.groups)
        return compaction.model_dump()
    channels = write_manifests(settings, ledger, request)
    logger.info("channel manifests written", rows=channels.rows, parts=channels.parts)
    return channels.model_dump()
