"""AWS::Lambda::EventInvokeConfig, provisioned with PutFunctionEventInvokeConfig."""

from __future__ import annotations

from typing import Any, Self

from moto.core.common_models import CloudFormationModel

from localcloud.resources.base import Provisioned

_INTEGERS = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds")


class EventInvokeConfig(Provisioned, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::EventInvokeConfig"

    @classmethod
    def provision(cls, resource_name: str, properties: dict[str, Any], region_name: str) -> Self:
        arguments = {key: int(properties[key]) for key in _INTEGERS if key in properties}
        if "DestinationConfig" in properties:
            arguments["DestinationConfig"] = properties["DestinationConfig"]
        cls.client("lambda", region_name).put_function_event_invoke_config(
            FunctionName=properties["FunctionName"], Qualifier=properties.get("Qualifier", "$LATEST"), **arguments
        )
        return cls(f"{properties['FunctionName']}:{properties.get('Qualifier', '$LATEST')}")
