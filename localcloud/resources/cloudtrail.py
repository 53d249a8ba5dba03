"""AWS::CloudTrail::Trail, provisioned with CreateTrail, PutEventSelectors, PutInsightSelectors and StartLogging."""

from __future__ import annotations

from typing import Any, Self

from moto.core.common_models import CloudFormationModel

from localcloud.resources.base import Provisioned

_BOOLEANS = {
    "IncludeGlobalServiceEvents": "IncludeGlobalServiceEvents",
    "IsMultiRegionTrail": "IsMultiRegionTrail",
    "EnableLogFileValidation": "EnableLogFileValidation",
    "IsOrganizationTrail": "IsOrganizationTrail",
}
_STRINGS = {
    "S3BucketName": "S3BucketName",
    "S3KeyPrefix": "S3KeyPrefix",
    "SnsTopicName": "SnsTopicName",
    "KMSKeyId": "KmsKeyId",
    "CloudWatchLogsLogGroupArn": "CloudWatchLogsLogGroupArn",
    "CloudWatchLogsRoleArn": "CloudWatchLogsRoleArn",
}


def _true(value: Any) -> bool:
    return str(value).lower() == "true"


def _event_selector(selector: dict[str, Any]) -> dict[str, Any]:
    api = dict(selector)
    if "IncludeManagementEvents" in api:
        api["IncludeManagementEvents"] = _true(api["IncludeManagementEvents"])
    return api


class Trail(Provisioned, CloudFormationModel):
    """A trail; ``Ref`` gives its name and ``Fn::GetAtt ... Arn`` its ARN.

    CreateTrail is refused, as on AWS, when the bucket or key policy would not let CloudTrail
    deliver (:mod:`localcloud.adapters.cloudtrail_trails`). ``IsLogging: true`` starts logging
    at once, so the stack's later resources are created under the trail.
    """

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudTrail::Trail"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "TrailName"

    @classmethod
    def provision(cls, resource_name: str, properties: dict[str, Any], region_name: str) -> Self:
        cloudtrail = cls.client("cloudtrail", region_name)
        name = properties.get("TrailName", resource_name)
        arguments: dict[str, Any] = {api: properties[cfn] for cfn, api in _STRINGS.items() if properties.get(cfn)}
        arguments |= {api: _true(properties[cfn]) for cfn, api in _BOOLEANS.items() if cfn in properties}
        if properties.get("Tags"):
            arguments["TagsList"] = properties["Tags"]
        arn: str = cloudtrail.create_trail(Name=name, **arguments)["TrailARN"]
        if properties.get("EventSelectors"):
            selectors = [_event_selector(s) for s in properties["EventSelectors"]]
            cloudtrail.put_event_selectors(TrailName=name, EventSelectors=selectors)
        elif properties.get("AdvancedEventSelectors"):
            cloudtrail.put_event_selectors(TrailName=name, AdvancedEventSelectors=properties["AdvancedEventSelectors"])
        if properties.get("InsightSelectors"):
            cloudtrail.put_insight_selectors(TrailName=name, InsightSelectors=properties["InsightSelectors"])
        if _true(properties.get("IsLogging", False)):
            cloudtrail.start_logging(Name=name)
        return cls(name, arn)
