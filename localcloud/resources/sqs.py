"""AWS::SQS::QueuePolicy, provisioned with SetQueueAttributes."""

from __future__ import annotations

import json
from typing import Any, Self

from moto.core.common_models import CloudFormationModel

from localcloud.resources.base import Provisioned


class QueuePolicy(Provisioned, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SQS::QueuePolicy"

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
        sqs = cls.client("sqs", region_name)
        for queue_url in properties["Queues"]:
            sqs.set_queue_attributes(
                QueueUrl=queue_url, Attributes={"Policy": json.dumps(properties["PolicyDocument"])}
            )
        return cls(resource_name)
