"""Training jobs train XGBoost for real on their channels, and can be made to fail on purpose."""

from __future__ import annotations

import io
import tarfile
from typing import Any

import boto3
import numpy as np
import pytest
import xgboost as xgb
from botocore.config import Config
from botocore.exceptions import ClientError

from conveyor.aws import split_s3_uri
from conveyor.schema import load_schema
from conveyor_tools.synthetic import csv_text, records
from localcloud import LocalCloud
from localcloud.adapters.sagemaker_training import sagemaker_training
from tests.localcloud.conftest import cloud_without, training_role

pytestmark = pytest.mark.localcloud

COLUMNS = load_schema("predictive_maintenance").columns
HYPERPARAMETERS = {
    "num_round": "40",
    "max_depth": "4",
    "eta": "0.2",
    "objective": "binary:logistic",
    "eval_metric": "auc",
}


def upload_channels(cloud: LocalCloud, *, shuffle: bool = False, train_body: bytes | None = None) -> str:
    bucket: str = cloud.outputs["ArtifactBucketName"]
    bodies = {
        "train": train_body or csv_text(records(1500, 1, shuffle_labels=shuffle), COLUMNS, header=False).encode(),
        "validation": csv_text(records(600, 2, shuffle_labels=shuffle), COLUMNS, header=False).encode(),
    }
    for name, body in bodies.items():
        cloud.client("s3").put_object(Bucket=bucket, Key=f"channels/{name}/part-0.csv", Body=body)
    return bucket


def create_job(
    cloud: LocalCloud, bucket: str, name: str = "job-1", *, retries: bool = True, **extra: Any
) -> dict[str, Any]:
    config = Config(retries={"total_max_attempts": 1}) if not retries else None
    sagemaker = boto3.client("sagemaker", region_name=cloud.region, config=config)
    sagemaker.create_training_job(
        TrainingJobName=name,
        HyperParameters=HYPERPARAMETERS,
        AlgorithmSpecification={
            "TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.3-1",
            "TrainingInputMode": "File",
        },
        RoleArn=training_role(cloud),
        InputDataConfig=[
            {
                "ChannelName": channel,
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/channels/{channel}/"}
                },
            }
            for channel in ("train", "validation")
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/training/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200},
        **extra,
    )
    job: dict[str, Any] = sagemaker.describe_training_job(TrainingJobName=name)
    return job


def model_of(cloud: LocalCloud, job: dict[str, Any]) -> xgb.Booster:
    bucket, key = split_s3_uri(job["ModelArtifacts"]["S3ModelArtifacts"])
    tarball = cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:
        assert archive.getnames() == ["xgboost-model"]
        member = archive.extractfile("xgboost-model")
        assert member is not None
        booster = xgb.Booster()
        booster.load_model(bytearray(member.read()))
    return booster


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum formula (ties are absent for these scores)."""
    ranks = scores.argsort().argsort() + 1
    positives = labels == 1
    count_pos, count_neg = positives.sum(), (~positives).sum()
    return float((ranks[positives].sum() - count_pos * (count_pos + 1) / 2) / (count_pos * count_neg))


def metric(job: dict[str, Any], name: str) -> float:
    return float(next(m["Value"] for m in job["FinalMetricDataList"] if m["MetricName"] == name))


def test_gap_moto_completes_jobs_without_training() -> None:
    with cloud_without(sagemaker_training) as cloud:
        job = create_job(cloud, upload_channels(cloud))
        assert [m["MetricName"] for m in job["FinalMetricDataList"]] == ["train:progress"]
        listing = cloud.client("s3").list_objects_v2(Bucket=cloud.outputs["ArtifactBucketName"], Prefix="training/")
        assert "Contents" not in listing


def test_fix_the_job_trains_a_model_whose_reported_metric_is_computed_from_the_data(cloud: LocalCloud) -> None:
    job = create_job(cloud, upload_channels(cloud))
    assert job["TrainingJobStatus"] == "Completed"
    booster = model_of(cloud, job)
    assert booster.num_boosted_rounds() == 40
    validation = np.array(
        [[float(c) for c in line.split(",")] for line in csv_text(records(600, 2), COLUMNS, header=False).splitlines()]
    )
    expected = auc(validation[:, 0], booster.predict(xgb.DMatrix(validation[:, 1:])))
    assert metric(job, "validation:auc") == pytest.approx(expected, abs=1e-6)
    assert metric(job, "validation:auc") > 0.75


def test_labels_without_signal_train_a_model_no_better_than_chance(cloud: LocalCloud) -> None:
    job = create_job(cloud, upload_channels(cloud, shuffle=True))
    assert 0.4 < metric(job, "validation:auc") < 0.6


def test_unusable_data_fails_the_job_with_its_reason(cloud: LocalCloud) -> None:
    bucket = upload_channels(cloud, train_body=b"2,1.0,2.0,3.0,4.0,5.0,6.0\n")
    job = create_job(cloud, bucket)
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"] == "ClientError: binary objectives need labels 0 and 1 in the first column"


def test_an_injected_failure_fails_the_next_job(cloud: LocalCloud) -> None:
    cloud.training_faults.fail_next.append("simulated capacity error")
    job = create_job(cloud, upload_channels(cloud))
    assert (job["TrainingJobStatus"], job["FailureReason"]) == ("Failed", "ClientError: simulated capacity error")


def test_throttled_creates_are_refused_then_accepted(cloud: LocalCloud) -> None:
    cloud.training_faults.throttle_creates = 2
    bucket = upload_channels(cloud)
    for _ in range(2):
        with pytest.raises(ClientError, match="ThrottlingException"):
            create_job(cloud, bucket, retries=False)
    assert create_job(cloud, bucket)["TrainingJobStatus"] == "Completed"


def test_a_spot_interruption_resumes_from_the_checkpoint(cloud: LocalCloud) -> None:
    cloud.training_faults.interrupt_spot = 1
    bucket = upload_channels(cloud)
    job = create_job(
        cloud,
        bucket,
        EnableManagedSpotTraining=True,
        CheckpointConfig={"S3Uri": f"s3://{bucket}/checkpoints/job-1/"},
    )
    statuses = [t["Status"] for t in job["SecondaryStatusTransitions"]]
    assert statuses.count("Training") == 2
    assert "Interrupted" in statuses
    cloud.client("s3").head_object(Bucket=bucket, Key="checkpoints/job-1/xgboost-checkpoint")
    assert model_of(cloud, job).num_boosted_rounds() == 40


def test_a_job_name_is_never_reused(cloud: LocalCloud) -> None:
    bucket = upload_channels(cloud)
    create_job(cloud, bucket)
    with pytest.raises(ClientError, match="ResourceInUse"):
        create_job(cloud, bucket)
