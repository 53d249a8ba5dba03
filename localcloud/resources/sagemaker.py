"""AWS::SageMaker::ModelPackageGroup, provisioned with CreateModelPackageGroup."""

from __future__ import annotations

from typing import Any, Self

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.core.common_models import CloudFormationModel

from localcloud.resources.base import Provisioned


class ModelPackageGroup(Provisioned, CloudFormationModel):
    def __init__(self, name: str, arn: str) -> None:
        super().__init__(arn)
        self.name = name
        self.arn = arn

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SageMaker::ModelPackageGroup"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "ModelPackageGroupName"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "ModelPackageGroupArn"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "ModelPackageGroupArn":
            return self.arn
        raise UnformattedGetAttTemplateException()

    @classmethod
    def provision(cls, resource_name: str, properties: dict[str, Any], region_name: str) -> Self:
        name = properties.get("ModelPackageGroupName", resource_name)
        arguments = (
            {"ModelPackageGroupDescription": properties["ModelPackageGroupDescription"]}
            if ("ModelPackageGroupDescription" in properties)
            else {}
        )
        arn: str = cls.client("sagemaker", region_name).create_model_package_group(
            ModelPackageGroupName=name, **arguments
        )["ModelPackageGroupArn"]
        return cls(name, arn)
