"""Helpers for the endpoint tests: two real XGBoost models in emulated S3, and endpoints serving them."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import numpy as np
import xgboost as xgb

from conveyor.schema import load_schema
from conveyor_tools.synthetic import csv_text, records
from localcloud import LocalCloud
from localcloud.adapters import Adapter
from localcloud.hosting.container import load_model
from localcloud.training import train
from tests.localcloud.conftest import service_role
from tests.localcloud.small_stack import small_cloud

COLUMNS = load_schema("predictive_maintenance").columns
BUCKET = "models"
MODELS = ("champion", "challenger")
# The champion and the challenger learn from different rows with different depths.
HYPERPARAMETERS = {
    "champion": {"num_round": "20", "max_depth": "3", "eta": "0.3", "objective": "binary:logistic"},
    "challenger": {"num_round": "20", "max_depth": "5", "eta": "0.3", "objective": "binary:logistic"},
}


@functools.cache
def tarball(model: str) -> bytes:
    """``model.tar.gz`` of a model trained by the local training stand-in."""
    seed = MODELS.index(model) + 1
    train_channel = csv_text(records(400, seed), COLUMNS, header=False).encode()
    outcome = train(
        HYPERPARAMETERS[model], {"train": [train_channel]}, checkpoint=lambda _: None, interrupt=False, now=datetime.now
    )
    return outcome.model_tarball


def feature_rows(count: int, seed: int = 11) -> list[str]:
    """CSV rows of features (no label, no header), as an endpoint receives them."""
    lines = csv_text(records(count, seed), COLUMNS, header=False).splitlines()
    return [line.split(",", 1)[1] for line in lines]


def expected_predictions(model: str, rows: Sequence[str]) -> list[float]:
    """What XGBoost itself predicts for ``rows`` with ``model``."""
    matrix = np.array([[float(cell) for cell in row.split(",")] for row in rows])
    return [float(p) for p in load_model(tarball(model)).predict(xgb.DMatrix(matrix))]


def model_role(cloud: LocalCloud) -> str:
    """The role models run as: it reads the models' artifacts."""
    read = {"Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/artifacts/*"}
    return service_role(cloud, "model", "sagemaker.amazonaws.com", read)


def create_models(cloud: LocalCloud, role: str) -> None:
    """Upload both models' artifacts and create SageMaker models of them, run as ``role``."""
    s3, sagemaker = cloud.client("s3"), cloud.client("sagemaker")
    for model in MODELS:
        s3.put_object(Bucket=BUCKET, Key=f"artifacts/{model}/model.tar.gz", Body=tarball(model))
        sagemaker.create_model(
            ModelName=model,
            ExecutionRoleArn=role,
            PrimaryContainer={
                "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.3-1",
                "ModelDataUrl": f"s3://{BUCKET}/artifacts/{model}/model.tar.gz",
            },
        )


# How long a deployment takes in these tests, so that they see Creating and Updating.
DEPLOY_SECONDS = 60.0


@contextmanager
def endpoint_cloud(*, without: Sequence[Adapter] = ()) -> Iterator[LocalCloud]:
    """A small stack with the champion and challenger models ready to deploy, run as role "model"."""
    with small_cloud(without=without) as cloud:
        cloud.hosting.deploy_seconds = DEPLOY_SECONDS
        cloud.client("s3").create_bucket(Bucket=BUCKET)
        create_models(cloud, model_role(cloud))
        yield cloud


def variant(
    name: str, weight: float, *, model: str | None = None, instance_type: str = "ml.m5.large"
) -> dict[str, Any]:
    """A production variant serving ``model`` (by default the model named like the variant)."""
    return {
        "VariantName": name,
        "ModelName": model or name,
        "InitialInstanceCount": 1,
        "InstanceType": instance_type,
        "InitialVariantWeight": weight,
    }


def configure(cloud: LocalCloud, config: str, *variants: dict[str, Any], **extra: Any) -> None:
    cloud.client("sagemaker").create_endpoint_config(
        EndpointConfigName=config, ProductionVariants=list(variants), **extra
    )


def deploy(cloud: LocalCloud, endpoint: str, config: str, *variants: dict[str, Any], **extra: Any) -> None:
    """Create ``endpoint`` with a new configuration of ``variants`` and wait, in stack time, until it serves."""
    configure(cloud, config, *variants, **extra)
    cloud.client("sagemaker").create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    cloud.advance(seconds=cloud.hosting.deploy_seconds)


def weights(cloud: LocalCloud, endpoint: str) -> dict[str, float]:
    """The current weight of each of the endpoint's variants, as DescribeEndpoint shows them."""
    described = cloud.client("sagemaker").describe_endpoint(EndpointName=endpoint)
    return {v["VariantName"]: v["CurrentWeight"] for v in described["ProductionVariants"]}


def invoke(cloud: LocalCloud, endpoint: str, body: str, **extra: Any) -> tuple[str, str]:
    """(the variant that answered, the answer) of one CSV request."""
    answer = cloud.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, Body=body.encode(), ContentType="text/csv", **extra
    )
    return answer["InvokedProductionVariant"], answer["Body"].read().decode()
