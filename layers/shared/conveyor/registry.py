"""The SageMaker Model Registry: the champion is the latest Approved package of the stack's group.

Each package points, through ``ModelMetrics.ModelQuality.Statistics``, at the evaluation report
its run wrote; the champion's objective metric is read from there.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from conveyor import aws


class Champion(BaseModel):
    package_arn: str
    metrics: dict[str, float]


def _read_json(uri: str) -> Any:
    bucket, key = aws.split_s3_uri(uri)
    return json.loads(aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def champion(group_name: str) -> Champion | None:
    """The model in service by the registry's account, or None on the first run."""
    sagemaker = aws.client("sagemaker")
    summaries = sagemaker.list_model_packages(
        ModelPackageGroupName=group_name,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    )["ModelPackageSummaryList"]
    if not summaries:
        return None
    arn = summaries[0]["ModelPackageArn"]
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    report_uri = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    return Champion(package_arn=arn, metrics=_read_json(report_uri)["metrics"])
