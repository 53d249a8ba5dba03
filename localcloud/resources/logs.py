"""AWS::Logs::LogStream, provisioned with CreateLogStream."""

from __future__ import annotations

from typing import Any, Self

from moto.core.common_models import CloudFormationModel

from localcloud.resources.base import Provisioned


class LogStream(Provisioned, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Logs::LogStream"

    @classmethod
    def provision(cls, resource_name: str, properties: dict[str, Any], region_name: str) -> Self:
        name = properties.get("LogStreamName", resource_name)
        cls.client("logs", region_name).create_log_stream(logGroupName=properties["LogGroupName"], logStreamName=name)
        return cls(name)
