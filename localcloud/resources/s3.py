"""AWS::S3::BucketPolicy, provisioned with PutBucketPolicy."""

from __future__ import annotations

import json
from typing import Any, Self

from moto.core.common_models import CloudFormationModel

from localcloud.resources.base import Provisioned


class BucketPolicy(Provisioned, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    @classmethod
    def provision(cls, resource_name: str, properties: dict[str, Any], region_name: str) -> Self:
        bucket = properties["Bucket"]
        cls.client("s3", region_name).put_bucket_policy(Bucket=bucket, Policy=json.dumps(properties["PolicyDocument"]))
        return cls(bucket)
