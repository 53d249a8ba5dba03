"""What every provisioned resource shares."""

from __future__ import annotations

from typing import Any, Self

import boto3
from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

from localcloud.iam.authority import ADMIN_ACCESS_KEY

# A boto3 client takes about 10 ms to create and a deploy provisions some thirty resources: one
# client per service and region serves them all, while the local cloud runs (see forget_clients).
_clients: dict[tuple[str, str], Any] = {}


class Provisioned:
    """Mixin for a provisioner; list it before ``CloudFormationModel`` in the bases.

    Moto finds models through ``CloudFormationModel.__subclasses__()``, so each provisioner
    must name ``CloudFormationModel`` directly among its bases.
    """

    ARN_ATTRIBUTE = "Arn"
    """Name of the ``Fn::GetAtt`` attribute that gives the resource's ARN, where it has one."""

    def __init__(self, physical_resource_id: str, arn: str | None = None) -> None:
        self._physical_resource_id = physical_resource_id
        self.arn = arn

    @property
    def physical_resource_id(self) -> str:
        return self._physical_resource_id

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == cls.ARN_ATTRIBUTE

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == self.ARN_ATTRIBUTE and self.arn is not None:
            return self.arn
        raise UnformattedGetAttTemplateException()

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
        """A client of the emulated service, as the administrator, for provisioning through its public API."""
        key = (service, region_name)
        if key not in _clients:
            admin = {"aws_access_key_id": ADMIN_ACCESS_KEY, "aws_secret_access_key": ADMIN_ACCESS_KEY}
            _clients[key] = boto3.client(service, region_name=region_name, **admin)
        return _clients[key]


def forget_clients() -> None:
    """Drop the provisioners' clients (when the local cloud that they reach stops)."""
    _clients.clear()
