"""AWS::SageMaker::ModelPackageGroup, provisioned with CreateModelPackageGroup."""

from __future__ import annotations

from typing import Any, Self

from moto.core.common_models import CloudFormationModel

from localcloud.resources.base import Provisioned


class ModelPackageGroup(Provisioned, CloudFormationModel):
    ARN_ATTRIBUTE = "ModelPackageGroupArn"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SageMaker::ModelPackageGroup"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "ModelPackageGroupName"

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
        return cls(arn, arn)
