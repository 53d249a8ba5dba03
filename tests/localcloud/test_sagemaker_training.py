"""Training jobs train XGBoost for real on their channels, on one instance or several, and can fail on purpose."""

from __future__ import annotations

import io
import json
import os
import re
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
from localcloud.training.channels import Channel, ChannelObject
from localcloud.training.logs import GROUP
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


def prefix_channel(bucket: str, channel: str, **source: str) -> dict[str, Any]:
    """An ``S3Prefix`` channel of the objects under ``channels/<channel>/``."""
    uri = f"s3://{bucket}/channels/{channel}/"
    return s3_channel(channel, {"S3DataType": "S3Prefix", "S3Uri": uri, **source})


def s3_channel(channel: str, source: dict[str, str]) -> dict[str, Any]:
    return {"ChannelName": channel, "ContentType": "text/csv", "DataSource": {"S3DataSource": source}}


def create_job(
    cloud: LocalCloud,
    bucket: str,
    name: str = "job-1",
    *,
    retries: bool = True,
    channels: list[dict[str, Any]] | None = None,
    instance_count: int = 1,
    **extra: Any,
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
        InputDataConfig=channels or [prefix_channel(bucket, channel) for channel in ("train", "validation")],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/training/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": instance_count, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200},
        **extra,
    )
    job: dict[str, Any] = sagemaker.describe_training_job(TrainingJobName=name)
    return job


def upload_parts(cloud: LocalCloud, channel: str, parts: list[bytes]) -> str:
    """``channels/<channel>/part-<i>.csv`` for each of ``parts``."""
    bucket: str = cloud.outputs["ArtifactBucketName"]
    for index, body in enumerate(parts):
        cloud.client("s3").put_object(Bucket=bucket, Key=f"channels/{channel}/part-{index}.csv", Body=body)
    return bucket


def rows(count: int, seed: int) -> bytes:
    """``count`` synthetic rows as a channel object holds them."""
    return csv_text(records(count, seed), COLUMNS, header=False).encode()


def upload_manifest(cloud: LocalCloud, bucket: str, body: bytes) -> str:
    """The manifest ``channels/manifests/train.manifest``, which the training role may read; its URI."""
    cloud.client("s3").put_object(Bucket=bucket, Key="channels/manifests/train.manifest", Body=body)
    return f"s3://{bucket}/channels/manifests/train.manifest"


def allow_training_logs(cloud: LocalCloud) -> None:
    """Let the training role write its logs, as the template's TrainingRole may."""
    group = f"arn:aws:logs:{cloud.region}:{cloud.account_id}:log-group:{GROUP}:*"
    statement = {
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": group,
    }
    training_role(cloud)
    cloud.client("iam").put_role_policy(
        RoleName="training",
        PolicyName="logs",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )


def host_logs(cloud: LocalCloud, job: str) -> dict[str, list[str]]:
    """Each host's log lines, by host, from the job's streams in CloudWatch Logs."""
    logs = cloud.client("logs")
    streams = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=f"{job}/")["logStreams"]
    by_host = {}
    for stream in streams:
        host = stream["logStreamName"].removeprefix(f"{job}/").rsplit("-", 1)[0]
        events = logs.get_log_events(logGroupName=GROUP, logStreamName=stream["logStreamName"])["events"]
        by_host[host] = [event["message"] for event in events]
    return by_host


def joined(lines: list[str]) -> tuple[int, str]:
    """The process a host trained in and its rank (``"0 of 2"``), as its log says."""
    found = next(m for line in lines if (m := re.fullmatch(r"Distributed training: process (\d+) is rank (.+)", line)))
    return int(found[1]), found[2]


def reads(lines: list[str], channel: str) -> list[str]:
    """The files of ``channel`` a host's algorithm says it read, in order."""
    folder = f"Read /opt/ml/input/data/{channel}/"
    return [line.removeprefix(folder).split(":")[0] for line in lines if line.startswith(folder)]


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


def test_a_manifest_channel_trains_on_exactly_the_listed_objects(cloud: LocalCloud) -> None:
    # Given three train objects and, under the same prefix, a fourth that cannot be trained on
    bucket = upload_parts(cloud, "train", [rows(500, 3), rows(500, 4), rows(500, 5), b"not,a,number\n"])
    upload_parts(cloud, "validation", [rows(600, 2)])
    allow_training_logs(cloud)
    # And a manifest that lists the three, last first
    manifest = json.dumps([{"prefix": f"s3://{bucket}/channels/train/"}, "part-2.csv", "part-0.csv", "part-1.csv"])
    uri = upload_manifest(cloud, bucket, manifest.encode())
    # When a job trains on the manifest
    train = s3_channel("train", {"S3DataType": "ManifestFile", "S3Uri": uri})
    job = create_job(cloud, bucket, channels=[train, prefix_channel(bucket, "validation")])
    # Then it trains on exactly the listed objects, in manifest order, and on nothing else
    assert job["TrainingJobStatus"] == "Completed"
    assert reads(host_logs(cloud, "job-1")["algo-1"], "train") == ["part-2.csv", "part-0.csv", "part-1.csv"]
    assert model_of(cloud, job).num_boosted_rounds() == 40


@pytest.mark.parametrize(
    ("manifest", "reason"),
    [
        (None, "cannot read the manifest {uri}: An error occurred (NoSuchKey)"),
        (b"part-0.csv\n", "the manifest {uri} is not JSON"),
        (b'["part-0.csv"]', 'the manifest {uri} is not a JSON array: {{"prefix": "s3://bucket/prefix/"}}'),
        (
            b'[{"prefix": "s3://BUCKET/channels/train/"}, "part-0.csv", "part-9.csv"]',
            "cannot read s3://BUCKET/channels/train/part-9.csv (listed in the manifest {uri}): "
            "An error occurred (NoSuchKey)",
        ),
    ],
    ids=["missing", "not JSON", "not a manifest", "names a missing object"],
)
def test_a_bad_manifest_fails_the_job_naming_it(cloud: LocalCloud, manifest: bytes | None, reason: str) -> None:
    # Given a train channel whose manifest is missing, is not one, or names an object that does not exist
    bucket = upload_channels(cloud)
    uri = f"s3://{bucket}/channels/manifests/train.manifest"
    if manifest is not None:
        upload_manifest(cloud, bucket, manifest.replace(b"BUCKET", bucket.encode()))
    # When a job trains on it
    train = s3_channel("train", {"S3DataType": "ManifestFile", "S3Uri": uri})
    job = create_job(cloud, bucket, channels=[train, prefix_channel(bucket, "validation")])
    # Then the job fails, and its reason names the manifest
    assert job["TrainingJobStatus"] == "Failed"
    expected = "ClientError: channel train: " + reason.replace("BUCKET", bucket).format(uri=uri)
    assert job["FailureReason"].startswith(expected)


def test_two_instances_train_together_each_on_its_own_shard(cloud: LocalCloud) -> None:
    # Given four train objects and one validation object
    bucket = upload_parts(cloud, "train", [rows(1000, seed) for seed in (21, 22, 23, 24)])
    upload_parts(cloud, "validation", [rows(1000, 25)])
    allow_training_logs(cloud)
    one = create_job(cloud, bucket, "one-instance")
    # When a job trains on two instances, the train channel sharded by key
    channels = [prefix_channel(bucket, "train", S3DataDistributionType="ShardedByS3Key")]
    channels.append(prefix_channel(bucket, "validation", S3DataDistributionType="FullyReplicated"))
    two = create_job(cloud, bucket, "two-instances", channels=channels, instance_count=2)
    # Then each host read only its shard of the train channel, and all of the validation channel
    logs = host_logs(cloud, "two-instances")
    assert {host: reads(lines, "train") for host, lines in logs.items()} == {
        "algo-1": ["part-0.csv", "part-2.csv"],
        "algo-2": ["part-1.csv", "part-3.csv"],
    }
    assert all(reads(lines, "validation") == ["part-0.csv"] for lines in logs.values())
    # And the hosts trained in two processes of their own, joined as ranks 0 and 1 of 2
    (process_1, rank_1), (process_2, rank_2) = joined(logs["algo-1"]), joined(logs["algo-2"])
    assert (rank_1, rank_2) == ("0 of 2", "1 of 2")
    assert len({process_1, process_2, os.getpid()}) == 3
    # And together they learned what one instance learns from all of the data
    assert two["TrainingJobStatus"] == "Completed"
    assert model_of(cloud, two).num_boosted_rounds() == 40
    assert metric(two, "validation:auc") == pytest.approx(metric(one, "validation:auc"), abs=0.02)


def test_an_instance_without_a_shard_of_the_train_channel_takes_no_part(cloud: LocalCloud) -> None:
    # Given two train objects, sharded across three instances
    bucket = upload_parts(cloud, "train", [rows(800, 31), rows(800, 32)])
    upload_parts(cloud, "validation", [rows(500, 33)])
    allow_training_logs(cloud)
    channels = [prefix_channel(bucket, "train", S3DataDistributionType="ShardedByS3Key")]
    channels.append(prefix_channel(bucket, "validation"))
    # When the job trains
    job = create_job(cloud, bucket, channels=channels, instance_count=3)
    # Then the third instance gets no train object, says so and takes no part, as SageMaker's XGBoost does
    logs = host_logs(cloud, "job-1")
    assert not any(line.startswith("Downloaded") and "/train/" in line for line in logs["algo-3"])
    assert logs["algo-3"][-1] == "Host algo-3 does not have data. It will not be used in distributed training."
    # And the other two train together
    assert [joined(logs[host])[1] for host in ("algo-1", "algo-2")] == ["0 of 2", "1 of 2"]
    assert job["TrainingJobStatus"] == "Completed"


def test_a_host_with_unusable_data_fails_the_job_naming_the_host(cloud: LocalCloud) -> None:
    # Given a sharded train channel whose second object has a label a binary objective cannot learn
    bucket = upload_parts(cloud, "train", [rows(500, 41), b"2,1.0,2.0,3.0,4.0,5.0,6.0\n"])
    upload_parts(cloud, "validation", [rows(500, 42)])
    channels = [prefix_channel(bucket, "train", S3DataDistributionType="ShardedByS3Key")]
    channels.append(prefix_channel(bucket, "validation"))
    # When two instances train on it
    job = create_job(cloud, bucket, channels=channels, instance_count=2)
    # Then the job fails with the reason of the host that got that object
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"] == "ClientError: binary objectives need labels 0 and 1 in the first column (on algo-2)"


def test_a_spot_interruption_of_two_instances_resumes_both_from_the_checkpoint(cloud: LocalCloud) -> None:
    # Given two sharded instances on spot capacity, which will be interrupted once
    cloud.training_faults.interrupt_spot = 1
    bucket = upload_parts(cloud, "train", [rows(600, 51), rows(600, 52)])
    upload_parts(cloud, "validation", [rows(500, 53)])
    allow_training_logs(cloud)
    channels = [prefix_channel(bucket, "train", S3DataDistributionType="ShardedByS3Key")]
    channels.append(prefix_channel(bucket, "validation"))
    # When the job trains
    job = create_job(
        cloud,
        bucket,
        channels=channels,
        instance_count=2,
        EnableManagedSpotTraining=True,
        CheckpointConfig={"S3Uri": f"s3://{bucket}/checkpoints/job-1/"},
    )
    # Then it was interrupted, checkpointed, and both hosts resumed from the checkpoint to the last round
    statuses = [t["Status"] for t in job["SecondaryStatusTransitions"]]
    assert statuses.count("Training") == 2
    assert "Interrupted" in statuses
    cloud.client("s3").head_object(Bucket=bucket, Key="checkpoints/job-1/xgboost-checkpoint")
    for lines in host_logs(cloud, "job-1").values():
        assert "Resuming from the checkpoint at round 20" in lines
    assert model_of(cloud, job).num_boosted_rounds() == 40


def test_sharded_objects_are_dealt_round_robin_in_key_order_each_share_in_channel_order() -> None:
    # Given a sharded channel of five objects, listed out of key order (as a manifest may list them)
    keys = ["e.csv", "a.csv", "d.csv", "b.csv", "c.csv"]
    channel = Channel("train", [ChannelObject("bucket", f"parts/{key}", key) for key in keys], sharded=True)
    # When two instances share it
    shares = [[obj.file for obj in channel.share(instance, 2)] for instance in range(2)]
    # Then the objects, in key order, go to algo-1, algo-2, algo-1, ...; each instance keeps the channel's order
    assert shares == [["e.csv", "a.csv", "c.csv"], ["d.csv", "b.csv"]]
