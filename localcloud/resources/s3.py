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
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Self:
        properties = cloudformation_json["Properties"]
        bucket = properties["Bucket"]
        cls.client("s3", region_name).put_bucket_policy(Bucket=bucket, Policy=json.dumps(properties["PolicyDocument"]))
        return cls(bucket)
