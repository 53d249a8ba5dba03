"""Gap: moto's EventBridge Scheduler stores schedules but never fires them.

Fix: on every ``cloud.advance(...)``, each enabled ``rate(...)`` schedule fires once for every
period that has passed in stack time since it was created or last fired, invoking its target
as Scheduler does: a Lambda function asynchronously, or a state machine with a new execution,
with the target's ``Input``, acting as the target's role assumed by ``scheduler.amazonaws.com``.
``cron(...)`` and ``at(...)`` expressions are refused, loudly.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from moto.scheduler.models import scheduler_backends

from localcloud.arns import queue_url

if TYPE_CHECKING:
    from localcloud.interface import Cloud

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


class UnsupportedScheduleError(Exception):
    """The local cloud fires only rate(...) schedules."""


def period(expression: str) -> timedelta:
    """The interval of a ``rate(...)`` expression."""
    match = _RATE.match(expression)
    if match is None:
        raise UnsupportedScheduleError(f"the local cloud fires only rate(...) schedules, not {expression!r}")
    count, unit = int(match.group(1)), match.group(2).rstrip("s")
    return timedelta(seconds=count * _UNITS[unit])


def _fire(cloud: Cloud, schedule_arn: str, target: dict[str, Any]) -> None:
    """Invoke the target as its role; a refusal goes to the target's dead-letter queue.

    Permission errors are not retried, as Scheduler does not retry them; the dead letter is
    sent as the same role, with the error as message attributes.
    """
    payload = target.get("Input", "{}")

    def client(service: str) -> Any:
        return cloud.client(
            service, principal=target["RoleArn"], assumed_by="scheduler.amazonaws.com", source_arn=schedule_arn
        )

    try:
        if ":lambda:" in target["Arn"]:
            client("lambda").invoke(FunctionName=target["Arn"], InvocationType="Event", Payload=payload.encode())
        elif ":states:" in target["Arn"]:
            client("stepfunctions").start_execution(stateMachineArn=target["Arn"], input=payload)
        else:
            raise UnsupportedScheduleError(f"the local cloud cannot fire schedules at {target['Arn']}")
    except ClientError as error:
        queue_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
        if not queue_arn:
            return
        sqs = client("sqs")
        attributes = {
            "SCHEDULE_ARN": schedule_arn,
            "TARGET_ARN": target["Arn"],
            "ERROR_CODE": error.response["Error"]["Code"],
            "ERROR_MESSAGE": error.response["Error"].get("Message", "")[:256],
        }
        sqs.send_message(
            QueueUrl=queue_url(queue_arn),
            MessageBody=payload,
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )


@contextmanager
def scheduler(cloud: Cloud) -> Iterator[None]:
    last_fired: dict[str, datetime] = {}

    def tick() -> None:
        now = cloud.clock.now()
        backend = scheduler_backends[cloud.account_id][cloud.region]
        for group in backend.schedule_groups.values():
            for schedule in list(group.schedules.values()):
                if schedule.state != "ENABLED":
                    # A disabled schedule fires nothing for the periods it was off, as on AWS.
                    last_fired.pop(schedule.arn, None)
                    continue
                interval = period(schedule.schedule_expression)
                fired = last_fired.setdefault(schedule.arn, now)
                while now - fired >= interval:
                    fired += interval
                    _fire(cloud, schedule.arn, schedule.target)
                last_fired[schedule.arn] = fired

    def first_seen() -> None:
        # Schedules created since the last tick start their periods now.
        backend = scheduler_backends[cloud.account_id][cloud.region]
        for group in backend.schedule_groups.values():
            for schedule in group.schedules.values():
                last_fired.setdefault(schedule.arn, cloud.clock.now())

    cloud.before_advance.append(first_seen)
    cloud.tickers.append(tick)
    try:
        yield
    finally:
        cloud.tickers.remove(tick)
        cloud.before_advance.remove(first_seen)
