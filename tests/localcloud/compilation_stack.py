"""Helpers for the compilation tests: a packaged XGBoost model in emulated S3, and Neo jobs compiling it."""

from __future__ import annotations

import functools
import io
import tarfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any

import numpy as np
import xgboost as xgb

from conveyor.aws import split_s3_uri
from conveyor.schema import load_schema
from conveyor_tools.synthetic import csv_text, records
from localcloud import LocalCloud
from localcloud.adapters import Adapter
from localcloud.hosting.container import load_model
from localcloud.training import train
from tests.localcloud.conftest import service_role
from tests.localcloud.small_stack import small_cloud

COLUMNS = load_schema("predictive_maintenance").columns
BUCKET = "artifacts"
MODEL_KEY = "training/run-1/output/model.tar.gz"
MODEL_URI = f"s3://{BUCKET}/{MODEL_KEY}"
OUTPUT_LOCATION = f"s3://{BUCKET}/compiled/run-1"
HYPERPARAMETERS = {"num_round": "40", "max_depth": "4", "eta": "0.3", "objective": "binary:logistic"}


@functools.cache
def model_tarball() -> bytes:
    """``model.tar.gz`` of a model trained by the local training stand-in."""
    channel = csv_text(records(600, 1), COLUMNS, header=False).encode()
    outcome = train(HYPERPARAMETERS, {"train": [channel]}, checkpoint=lambda _: None, interrupt=False, now=datetime.now)
    return outcome.model_tarball


def feature_matrix(count: int = 100, seed: int = 5) -> np.ndarray:
    """``count`` rows of features, with a missing value in every seventh row."""
    lines = csv_text(records(count, seed), COLUMNS, header=False).splitlines()
    matrix = np.array([[float(cell) for cell in line.split(",")[1:]] for line in lines])
    matrix[::7, 2] = np.nan
    return matrix


def xgboost_predictions(rows: np.ndarray) -> np.ndarray:
    """What XGBoost itself predicts for ``rows`` with the model."""
    return np.asarray(load_model(model_tarball()).predict(xgb.DMatrix(rows)))


def compiler_role(cloud: LocalCloud, name: str = "compiler", *, read: bool = True, write: bool = True) -> str:
    """A role SageMaker may assume that reads ``training/`` and writes ``compiled/`` (each unless told),
    created on first use."""
    iam = cloud.client("iam")
    with suppress(iam.exceptions.NoSuchEntityException):
        existing: str = iam.get_role(RoleName=name)["Role"]["Arn"]
        return existing
    statements = [{"Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*"}]
    if read:
        statements.append({"Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/training/*"})
    if write:
        statements.append({"Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/compiled/*"})
    return service_role(cloud, name, "sagemaker.amazonaws.com", *statements)


@contextmanager
def compilation_cloud(*, without: Sequence[Adapter] = ()) -> Iterator[LocalCloud]:
    """A small stack with the packaged model at :data:`MODEL_URI`."""
    with small_cloud(without=without) as cloud:
        cloud.client("s3").create_bucket(Bucket=BUCKET)
        cloud.client("s3").put_object(Bucket=BUCKET, Key=MODEL_KEY, Body=model_tarball())
        yield cloud


def create_job(
    cloud: LocalCloud,
    name: str = "compile-1",
    *,
    target: dict[str, Any] | None = None,
    role: str | None = None,
    input_config: dict[str, Any] | None = None,
    **output: Any,
) -> dict[str, Any]:
    """Create a compilation job of the model (for ``ml_c5`` unless ``target`` says) and describe it."""
    sagemaker = cloud.client("sagemaker")
    sagemaker.create_compilation_job(
        CompilationJobName=name,
        RoleArn=role or compiler_role(cloud),
        InputConfig=input_config or {"S3Uri": MODEL_URI, "DataInputConfig": '{"data": [1, 6]}', "Framework": "XGBOOST"},
        OutputConfig={"S3OutputLocation": OUTPUT_LOCATION, **(target or {"TargetDevice": "ml_c5"}), **output},
        StoppingCondition={"MaxRuntimeInSeconds": 900},
    )
    return describe(cloud, name)


def describe(cloud: LocalCloud, name: str = "compile-1") -> dict[str, Any]:
    job: dict[str, Any] = cloud.client("sagemaker").describe_compilation_job(CompilationJobName=name)
    return job


def artifact(cloud: LocalCloud, job: dict[str, Any]) -> bytes:
    """The compiled artifact a job wrote."""
    bucket, key = split_s3_uri(job["ModelArtifacts"]["S3ModelArtifacts"])
    body: bytes = cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def member(tarball: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        extracted = archive.extractfile(name)
        assert extracted is not None
        return extracted.read()


def compiled_objects(cloud: LocalCloud) -> list[str]:
    listing = cloud.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="compiled/")
    return [o["Key"] for o in listing.get("Contents", [])]
