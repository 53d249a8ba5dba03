"""What every provisioned resource shares."""

from __future__ import annotations

from typing import Any

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

    @staticmethod
    def client(service: str, region_name: str) -> Any:
        """A client of the emulated service, for provisioning through its public API."""
        return boto3.client(service, region_name=region_name)
