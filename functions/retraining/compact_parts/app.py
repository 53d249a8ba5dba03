"""Lambda handler of part compaction (each item of the retraining workflow's Distributed Map)."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from part_compaction import CompactSettings, compact

from conveyor.compaction import CompactionItem
from conveyor.state.ledger import Ledger
from conveyor.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()
settings = CompactSettings.from_env()
ledger = Ledger(settings.state_table_name)


@logger.inject_lambda_context(correlation_id_path="run_id", clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    item = CompactionItem.model_validate(event)
    compaction = compact(settings, ledger, item)
    logger.info("parts compacted", sources=len(item.sources), **compaction.model_dump())
    return compaction.model_dump()
