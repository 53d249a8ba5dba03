"""What every provisioned resource shares."""

from __future__ import annotations

from typing import Any, Self

import boto3


class Provisioned:
    """Mixin for a provisioner; list it before ``CloudFormationModel`` in the bases.

    Moto finds models through ``CloudFormationModel.__subclasses__()``, so each provisioner
    must name ``CloudFormationModel`` directly among its bases.
    """

    def __init__(self, physical_resource_id: str) -> None:
        self._physical_resource_id = physical_resource_id

    @property
    def physical_resource_id(self) -> str:
        return self._physical_resource_id

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Self:
        """Moto's entry point, with Refs, GetAtts and conditions already resolved."""
        return cls.provision(resource_name, cloudformation_json.get("Properties", {}), region_name)

    @classmethod
    def provision(cls, resource_name: str, properties: dict[str, Any], region_name: str) -> Self:
        """Create the resource through its service's API; return it."""
        raise NotImplementedError(f"{cls.__name__} does not provision anything")

    @staticmethod
    def client(service: str, region_name: str) -> Any:
        """A client of the emulated service, for provisioning through its public API."""
        return boto3.client(service, region_name=region_name)
