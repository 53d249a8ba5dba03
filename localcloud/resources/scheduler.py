"""AWS::Scheduler::Schedule, provisioned with CreateSchedule (the scheduler adapter fires it)."""

from __future__ import annotations

from typing import Any, Self

from moto.core.common_models import CloudFormationModel

from localcloud.resources.base import Provisioned


def _integers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: int(v) if k.startswith("Maximum") else _integers(v) for k, v in value.items()}
    return value


class Schedule(Provisioned, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Scheduler::Schedule"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @classmethod
    def provision(cls, resource_name: str, properties: dict[str, Any], region_name: str) -> Self:
        name = properties.get("Name", resource_name)
        arguments = {
            key: _integers(properties[key])
            for key in ("Description", "ScheduleExpression", "ScheduleExpressionTimezone", "State", "Target")
            if key in properties
        }
        arn: str = cls.client("scheduler", region_name).create_schedule(
            Name=name,
            FlexibleTimeWindow=_integers(properties["FlexibleTimeWindow"]),
            **arguments,
        )["ScheduleArn"]
        return cls(name, arn)
