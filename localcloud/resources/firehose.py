"""AWS::KinesisFirehose::DeliveryStream, provisioned with CreateDeliveryStream."""

from __future__ import annotations

from typing import Any, Self

from moto.core.common_models import CloudFormationModel

from localcloud.resources.base import Provisioned

_INTEGERS = {"IntervalInSeconds", "SizeInMBs", "DurationInSeconds"}
_PASSED = (
    "DeliveryStreamType",
    "DeliveryStreamEncryptionConfigurationInput",
    "ExtendedS3DestinationConfiguration",
    "S3DestinationConfiguration",
    "Tags",
)


def _api_shape(value: Any, key: str = "") -> Any:
    """CloudFormation values as the API wants them: numbers as numbers, booleans as strings."""
    if isinstance(value, dict):
        return {k: _api_shape(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_api_shape(v) for v in value]
    if key in _INTEGERS:
        return int(value)
    if key == "Enabled":
        return str(value).lower() == "true"
    return value


class DeliveryStream(Provisioned, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::KinesisFirehose::DeliveryStream"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "DeliveryStreamName"

    @classmethod
    def provision(cls, resource_name: str, properties: dict[str, Any], region_name: str) -> Self:
        name = properties.get("DeliveryStreamName", resource_name)
        arguments = {key: _api_shape(properties[key]) for key in _PASSED if key in properties}
        arn: str = cls.client("firehose", region_name).create_delivery_stream(DeliveryStreamName=name, **arguments)[
            "DeliveryStreamARN"
        ]
        return cls(name, arn)
