"""The champion's record in the SageMaker Model Registry: its package and its evaluation report.

The champion is the model in service: the package the state table's champion pointer names
(:mod:`conveyor.state.champion`), set when a canary promotes it. A package that was approved but
never served, or was rolled back, is not the champion. Each package points, through
``ModelMetrics.ModelQuality.Statistics``, at the evaluation report its run wrote; the champion's
objective metric is read from there.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from conveyor import aws
from conveyor.state.champion import current_champion


class Champion(BaseModel):
    package_arn: str
    metrics: dict[str, float]


def _read_json(uri: str) -> Any:
    bucket, key = aws.split_s3_uri(uri)
    return json.loads(aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def champion(table_name: str) -> Champion | None:
    """The model in service, with its metrics, or None before the first release."""
    pointer = current_champion(table_name)
    if pointer is None:
        return None
    package = aws.client("sagemaker").describe_model_package(ModelPackageName=pointer.package_arn)
    report_uri = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    return Champion(package_arn=pointer.package_arn, metrics=_read_json(report_uri)["metrics"])
