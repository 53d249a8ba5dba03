"""EventBridge Scheduler fires rate(...) schedules on stack time."""

from __future__ import annotations

import json

import pytest

from localcloud import LocalCloud
from localcloud.adapters.scheduler import UnsupportedScheduleError, scheduler
from tests.conftest import FIXTURES
from tests.localcloud.conftest import cloud_without, service_role

pytestmark = pytest.mark.localcloud

EVENT = {"run": "schedule", "item": "tick"}


def schedule_function(cloud: LocalCloud, expression: str, *, state: str = "ENABLED") -> None:
    """A schedule on ``expression`` that invokes a fixture function with :data:`EVENT`."""
    arn = cloud.deploy_function("scheduled", FIXTURES / "functions" / "flaky")
    invoker = service_role(
        cloud, "scheduler", "scheduler.amazonaws.com", {"Action": "lambda:InvokeFunction", "Resource": arn}
    )
    cloud.client("scheduler").create_schedule(
        Name="every-so-often",
        ScheduleExpression=expression,
        State=state,
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": arn,
            "RoleArn": invoker,
            "Input": json.dumps(EVENT),
        },
    )


def test_gap_moto_stores_the_schedule_but_never_fires_it() -> None:
    with cloud_without(scheduler) as cloud:
        schedule_function(cloud, "rate(1 minute)")
        cloud.advance(minutes=3)
        assert cloud.runtime.invocations == []


def test_fix_the_target_is_invoked_once_per_period_with_the_input(cloud: LocalCloud) -> None:
    # Given a schedule every minute
    schedule_function(cloud, "rate(1 minute)")
    # When three and a half minutes of stack time pass
    cloud.advance(minutes=3.5)
    # Then the function ran three times, each with the target's input
    assert [i.event for i in cloud.runtime.invocations] == [EVENT, EVENT, EVENT]
    assert all(i.error_type is None for i in cloud.runtime.invocations)


def test_fix_a_disabled_schedule_does_not_fire(cloud: LocalCloud) -> None:
    schedule_function(cloud, "rate(1 minute)", state="DISABLED")
    cloud.advance(minutes=3)
    assert cloud.runtime.invocations == []


def test_fix_a_cron_schedule_is_refused_loudly(cloud: LocalCloud) -> None:
    schedule_function(cloud, "cron(0 12 * * ? *)")
    with pytest.raises(UnsupportedScheduleError, match=r"cron\(0 12"):
        cloud.advance(minutes=1)
