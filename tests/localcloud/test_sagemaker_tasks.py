"""SageMaker tasks run in state machines, and createTrainingJob.sync waits for the job's end."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conveyor.schema import load_schema
from conveyor_tools.synthetic import csv_text, records
from localcloud import LocalCloud
from localcloud.adapters.sagemaker_tasks import sagemaker_tasks
from tests.localcloud.conftest import cloud_without, training_role

pytestmark = pytest.mark.localcloud

XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.3-1"


def channels(cloud: LocalCloud) -> str:
    """Upload small train and validation channels; the bucket they are in."""
    bucket: str = cloud.outputs["ArtifactBucketName"]
    columns = load_schema("predictive_maintenance").columns
    for name, seed in (("train", 1), ("validation", 2)):
        body = csv_text(records(300, seed), columns, header=False).encode()
        cloud.client("s3").put_object(Bucket=bucket, Key=f"channels/{name}/data.csv", Body=body)
    return bucket


def train(bucket: str, role_arn: str, job_name: str = "train-1") -> dict[str, Any]:
    return {
        "StartAt": "Train model",
        "States": {
            "Train model": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                "Parameters": {
                    "TrainingJobName": job_name,
                    "AlgorithmSpecification": {"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
                    "RoleArn": role_arn,
                    "HyperParameters": {"num_round": "10", "objective": "binary:logistic", "eval_metric": "auc"},
                    "InputDataConfig": [
                        {
                            "ChannelName": name,
                            "ContentType": "text/csv",
                            "DataSource": {
                                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/channels/{name}/"}
                            },
                        }
                        for name in ("train", "validation")
                    ],
                    "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/training/"},
                    "ResourceConfig": {
                        "InstanceCount": 1,
                        "InstanceType": "ml.m5.large",
                        "VolumeSizeInGB": 10,
                    },
                    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
                },
                "ResultSelector": {"status.$": "$.TrainingJobStatus", "name.$": "$.TrainingJobName"},
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Training failed"}],
                "End": True,
            },
            "Training failed": {"Type": "Pass", "End": True},
        },
    }


def may_train(cloud: LocalCloud, role_arn: str) -> dict[str, Any]:
    """What a state machine's role needs to run createTrainingJob.sync with the role ``role_arn``."""
    jobs = f"arn:aws:sagemaker:{cloud.region}:{cloud.account_id}:training-job/*"
    rule = f"arn:aws:events:{cloud.region}:{cloud.account_id}:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"
    allow = [
        {
            "Action": [
                "sagemaker:AddTags",
                "sagemaker:CreateTrainingJob",
                "sagemaker:DescribeTrainingJob",
                "sagemaker:StopTrainingJob",
            ],
            "Resource": jobs,
        },
        {"Action": ["events:DescribeRule", "events:PutRule", "events:PutTargets"], "Resource": rule},
        {
            "Action": "iam:PassRole",
            "Resource": role_arn,
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        },
    ]
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **statement} for statement in allow]}


def test_gap_moto_has_no_sagemaker_integration() -> None:
    with cloud_without(sagemaker_tasks) as cloud:
        role = training_role(cloud)
        definition = train(cloud.outputs["ArtifactBucketName"], role)
        result = cloud.run_state_machine("train", definition, policy=may_train(cloud, role))
        jobs = cloud.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]
    assert result["status"] == "FAILED"
    assert "Unsupported" in result["cause"]
    assert jobs == []


def test_fix_the_sync_task_creates_the_job_and_returns_its_final_description(cloud: LocalCloud) -> None:
    role = training_role(cloud)
    result = cloud.run_state_machine("train", train(channels(cloud), role), policy=may_train(cloud, role))
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"status": "Completed", "name": "train-1"}
    job = cloud.client("sagemaker").describe_training_job(TrainingJobName="train-1")
    assert job["AlgorithmSpecification"]["TrainingImage"] == XGBOOST_IMAGE


def test_fix_an_api_error_is_named_after_sagemaker(cloud: LocalCloud) -> None:
    # Given an endpoint whose endpoint configuration does not exist
    definition = {
        "StartAt": "Create endpoint",
        "States": {
            "Create endpoint": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createEndpoint",
                "Parameters": {"EndpointName": "serving", "EndpointConfigName": "missing"},
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Report"}],
                "End": True,
            },
            "Report": {"Type": "Pass", "End": True},
        },
    }
    # When a workflow creates it
    result = cloud.run_state_machine("endpoint", definition)
    # Then the task fails with a SageMaker error name that a Catch can match
    assert json.loads(result["output"])["error"]["Error"] == "SageMaker.ValidationException"
