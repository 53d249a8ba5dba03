"""The champion's record in the SageMaker Model Registry: its package, its model and its evaluation report.

The champion is the model in service: the package the state table's champion pointer names
(:mod:`conveyor.state.champion`), set when a canary promotes it. A package that was approved but
never served, or was rolled back, is not the champion. Each package points, through
``ModelMetrics.ModelQuality.Statistics``, at the evaluation report its run wrote, and through its
inference container at its ``model.tar.gz``. The report holds the metrics its training job
reported and, from the fair gate on, the ``layout`` (label and features) the model was trained on;
an older report has none. Through ``DriftCheckBaselines.ModelDataQuality.Statistics`` it points at
its drift baseline (:mod:`conveyor.drift`); a package registered before baselines has none.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from conveyor import aws
from conveyor.drift import Baseline
from conveyor.schema import Layout
from conveyor.state.champion import current_champion


class Champion(BaseModel):
    package_arn: str
    model_data_url: str
    metrics: dict[str, float]
    """What its training job reported (``validation:auc``...), as its evaluation report keeps them."""
    layout: Layout | None
    """The columns it was trained on; None when its report predates recording them."""


def _read_json(uri: str) -> Any:
    bucket, key = aws.split_s3_uri(uri)
    return json.loads(aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def champion(table_name: str) -> Champion | None:
    """The model in service, with its model artifact, metrics and layout, or None before the first release."""
    pointer = current_champion(table_name)
    if pointer is None:
        return None
    package = aws.client("sagemaker").describe_model_package(ModelPackageName=pointer.package_arn)
    report = _read_json(package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"])
    return Champion(
        package_arn=pointer.package_arn,
        model_data_url=package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"],
        metrics=report["metrics"],
        layout=report.get("layout"),
    )


def baseline_of(package_arn: str) -> Baseline | None:
    """The drift baseline of a model package, or None if it has none."""
    package = aws.client("sagemaker").describe_model_package(ModelPackageName=package_arn)
    statistics = package.get("DriftCheckBaselines", {}).get("ModelDataQuality", {}).get("Statistics")
    return None if statistics is None else Baseline.model_validate(_read_json(statistics["S3Uri"]))


def champion_baseline(table_name: str) -> Baseline | None:
    """The drift baseline of the model in service; None before the first release, or if it has none."""
    pointer = current_champion(table_name)
    return None if pointer is None else baseline_of(pointer.package_arn)
