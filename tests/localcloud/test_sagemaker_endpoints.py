"""SageMaker endpoints deploy on stack time and serve real models, by weight, with metrics, faults and capture."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.cloudwatch.models import cloudwatch_backends

from localcloud import LocalCloud
from localcloud.adapters.sagemaker_endpoints import sagemaker_endpoints
from localcloud.hosting import EndpointFaults
from tests.localcloud.endpoint_stack import (
    BUCKET,
    configure,
    deploy,
    endpoint_cloud,
    expected_predictions,
    feature_rows,
    invoke,
    variant,
    weights,
)

pytestmark = pytest.mark.localcloud

ROWS = feature_rows(20)


@pytest.fixture
def canary() -> Iterator[LocalCloud]:
    """Endpoint "serving": the champion at 90, the challenger at 10."""
    with endpoint_cloud() as cloud:
        deploy(cloud, "serving", "canary", variant("champion", 90), variant("challenger", 10))
        yield cloud


def variant_metrics(cloud: LocalCloud, variant_name: str) -> dict[str, list[Any]]:
    """The AWS/SageMaker datapoints of one variant of "serving", by metric name."""
    found: dict[str, list[Any]] = {}
    for datum in cloudwatch_backends[cloud.account_id][cloud.region].metric_data:
        dimensions = {d.name: d.value for d in datum.dimensions}
        if datum.namespace == "AWS/SageMaker" and dimensions == {
            "EndpointName": "serving",
            "VariantName": variant_name,
        }:
            found.setdefault(datum.name, []).append(datum)
    return found


def model_error(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    return error.value.response["Error"]["Code"], error.value.response["OriginalStatusCode"]


def test_gap_moto_answers_every_request_with_a_placeholder() -> None:
    with endpoint_cloud(without=[sagemaker_endpoints]) as cloud:
        answer = cloud.client("sagemaker-runtime").invoke_endpoint(
            EndpointName="no-such-endpoint", Body=ROWS[0].encode(), ContentType="text/csv", TargetVariant="challenger"
        )
        assert answer["Body"].read() == b"body"
        assert answer["InvokedProductionVariant"] == "invoked_production_variant"


def test_gap_moto_endpoints_are_in_service_at_once() -> None:
    with endpoint_cloud(without=[sagemaker_endpoints]) as cloud:
        configure(cloud, "solo", variant("champion", 1))
        cloud.client("sagemaker").create_endpoint(EndpointName="serving", EndpointConfigName="solo")
        assert cloud.client("sagemaker").describe_endpoint(EndpointName="serving")["EndpointStatus"] == "InService"


def test_gap_moto_drops_the_fields_of_a_zero_weight_variant() -> None:
    with endpoint_cloud(without=[sagemaker_endpoints]) as cloud:
        configure(cloud, "canary", variant("champion", 1), variant("challenger", 0))
        sagemaker = cloud.client("sagemaker")
        sagemaker.create_endpoint(EndpointName="serving", EndpointConfigName="canary")
        sagemaker.update_endpoint_weights_and_capacities(
            EndpointName="serving", DesiredWeightsAndCapacities=[{"VariantName": "champion", "DesiredWeight": 2}]
        )
        champion, challenger = sagemaker.describe_endpoint(EndpointName="serving")["ProductionVariants"]
        assert "CurrentWeight" not in challenger
        assert "CurrentInstanceCount" not in champion


def test_fix_an_endpoint_serves_once_its_deployment_time_has_passed() -> None:
    with endpoint_cloud() as cloud:
        sagemaker = cloud.client("sagemaker")
        configure(cloud, "solo", variant("champion", 1))
        sagemaker.create_endpoint(EndpointName="serving", EndpointConfigName="solo")
        assert sagemaker.describe_endpoint(EndpointName="serving")["EndpointStatus"] == "Creating"
        with pytest.raises(ClientError, match="Endpoint serving of account 123456789012 not found"):
            invoke(cloud, "serving", ROWS[0])
        cloud.advance(seconds=cloud.hosting.deploy_seconds)
        assert sagemaker.describe_endpoint(EndpointName="serving")["EndpointStatus"] == "InService"
        assert invoke(cloud, "serving", ROWS[0])[0] == "champion"


def test_fix_an_endpoint_name_is_taken_until_the_endpoint_is_deleted(canary: LocalCloud) -> None:
    sagemaker = canary.client("sagemaker")
    with pytest.raises(ClientError, match="Cannot create already existing endpoint"):
        sagemaker.create_endpoint(EndpointName="serving", EndpointConfigName="canary")
    sagemaker.delete_endpoint(EndpointName="serving")
    with pytest.raises(ClientError, match="Endpoint serving of account 123456789012 not found"):
        invoke(canary, "serving", ROWS[0])
    sagemaker.create_endpoint(EndpointName="serving", EndpointConfigName="canary")
    assert sagemaker.describe_endpoint(EndpointName="serving")["EndpointStatus"] == "Creating"


def test_fix_a_model_its_role_cannot_read_fails_the_endpoint() -> None:
    with endpoint_cloud() as cloud:
        sagemaker = cloud.client("sagemaker")
        trust = {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
        orphan = cloud.client("iam").create_role(
            RoleName="orphan", AssumeRolePolicyDocument=json.dumps({"Statement": [trust]})
        )["Role"]["Arn"]
        container = sagemaker.describe_model(ModelName="champion")["PrimaryContainer"]
        sagemaker.create_model(ModelName="unreadable", ExecutionRoleArn=orphan, PrimaryContainer=container)
        deploy(cloud, "serving", "solo", variant("champion", 1, model="unreadable"))
        endpoint = sagemaker.describe_endpoint(EndpointName="serving")
        assert endpoint["EndpointStatus"] == "Failed"
        assert "Failed to download model data" in endpoint["FailureReason"]


def test_fix_predictions_are_the_models_own(canary: LocalCloud) -> None:
    served, answer = invoke(canary, "serving", "\n".join(ROWS), TargetVariant="challenger")
    assert served == "challenger"
    assert [float(line) for line in answer.splitlines()] == expected_predictions("challenger", ROWS)


def test_fix_requests_are_routed_by_current_weight(canary: LocalCloud) -> None:
    canary.hosting.seed(7)
    served = Counter(invoke(canary, "serving", ROWS[i % len(ROWS)])[0] for i in range(1000))
    assert 70 <= served["challenger"] <= 130
    assert served["champion"] + served["challenger"] == 1000


def test_fix_a_seed_replays_the_same_routing(canary: LocalCloud) -> None:
    def route() -> list[str]:
        canary.hosting.seed(3)
        return [invoke(canary, "serving", ROWS[0])[0] for _ in range(50)]

    assert route() == route()


def test_fix_a_zero_weight_variant_keeps_its_fields_and_gets_no_routed_request(canary: LocalCloud) -> None:
    canary.client("sagemaker").update_endpoint_weights_and_capacities(
        EndpointName="serving", DesiredWeightsAndCapacities=[{"VariantName": "challenger", "DesiredWeight": 0}]
    )
    challenger = canary.client("sagemaker").describe_endpoint(EndpointName="serving")["ProductionVariants"][1]
    assert (challenger["CurrentWeight"], challenger["DesiredWeight"], challenger["CurrentInstanceCount"]) == (0, 0, 1)
    assert {invoke(canary, "serving", ROWS[0])[0] for _ in range(100)} == {"champion"}


def test_fix_weights_for_variants_the_endpoint_does_not_run_are_refused(canary: LocalCloud) -> None:
    sagemaker = canary.client("sagemaker")
    with pytest.raises(ClientError, match="not present within endpoint configuration"):
        sagemaker.update_endpoint_weights_and_capacities(
            EndpointName="serving", DesiredWeightsAndCapacities=[{"VariantName": "missing", "DesiredWeight": 1}]
        )
    twice = [{"VariantName": "challenger", "DesiredWeight": w} for w in (0, 1)]
    with pytest.raises(ClientError, match="non-unique"):
        sagemaker.update_endpoint_weights_and_capacities(EndpointName="serving", DesiredWeightsAndCapacities=twice)
    assert weights(canary, "serving") == {"champion": 90, "challenger": 10}


def test_fix_target_variant_is_served_whatever_its_weight(canary: LocalCloud) -> None:
    canary.client("sagemaker").update_endpoint_weights_and_capacities(
        EndpointName="serving", DesiredWeightsAndCapacities=[{"VariantName": "challenger", "DesiredWeight": 0}]
    )
    assert invoke(canary, "serving", ROWS[0], TargetVariant="challenger")[0] == "challenger"
    with pytest.raises(ClientError, match="ValidationError"):
        invoke(canary, "serving", ROWS[0], TargetVariant="missing")


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [("300.0,abc,1500", 415, "Loading csv data failed"), ("300.0,310.0,1500", 400, "Unable to evaluate payload")],
)
def test_fix_data_the_model_cannot_use_is_a_model_client_error(
    canary: LocalCloud, body: str, status: int, reason: str
) -> None:
    with pytest.raises(ClientError) as error:
        invoke(canary, "serving", body, TargetVariant="champion")
    assert model_error(error) == ("ModelError", status)
    assert error.value.response["OriginalMessage"].startswith(reason)
    assert variant_metrics(canary, "champion")["Invocation4XXErrors"][-1].value == 1


def test_fix_every_request_publishes_its_variants_metrics_at_its_moment(canary: LocalCloud) -> None:
    variant_name, _ = invoke(canary, "serving", ROWS[0], TargetVariant="challenger")
    served = canary.hosting.invocations[-1]
    metrics = variant_metrics(canary, variant_name)
    assert {name: [d.value for d in data] for name, data in metrics.items() if "Latency" not in name} == {
        "Invocations": [1],
        "Invocation4XXErrors": [0],
        "Invocation5XXErrors": [0],
    }
    [model_latency], [overhead] = metrics["ModelLatency"], metrics["OverheadLatency"]
    assert (model_latency.value, overhead.value) == (served.model_latency_us, served.overhead_latency_us)
    assert model_latency.value > 0
    assert {d.timestamp for data in metrics.values() for d in data} == {served.at.replace(tzinfo=None)}
    assert "champion" not in {i.variant_name for i in canary.hosting.invocations}


def test_fix_metrics_are_read_like_any_others(canary: LocalCloud) -> None:
    for _ in range(5):
        invoke(canary, "serving", ROWS[0], TargetVariant="champion")
    now = canary.clock.now()
    statistics = canary.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="Invocations",
        Dimensions=[{"Name": "EndpointName", "Value": "serving"}, {"Name": "VariantName", "Value": "champion"}],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=1),
        Period=3600,
        Statistics=["Sum"],
    )
    assert [p["Sum"] for p in statistics["Datapoints"]] == [5]


def test_fix_injected_errors_fail_as_model_5xx_and_count_as_such(canary: LocalCloud) -> None:
    canary.endpoint_faults.variant("serving", "challenger", error_rate=1.0)
    with pytest.raises(ClientError) as error:
        invoke(canary, "serving", ROWS[0], TargetVariant="challenger")
    assert model_error(error) == ("ModelError", 500)
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert variant_metrics(canary, "challenger")["Invocation5XXErrors"][-1].value == 1
    assert invoke(canary, "serving", ROWS[0], TargetVariant="champion")[0] == "champion"


def test_fix_injected_latency_is_in_the_model_latency(canary: LocalCloud) -> None:
    canary.endpoint_faults.variant("serving", "champion", latency_ms=250)
    invoke(canary, "serving", ROWS[0], TargetVariant="champion")
    [latency] = variant_metrics(canary, "champion")["ModelLatency"]
    assert 250_000 < latency.value < 300_000


def test_fix_a_failed_update_returns_to_the_old_configuration_in_silence(canary: LocalCloud) -> None:
    # Given the next update of "serving" fails
    sagemaker = canary.client("sagemaker")
    configure(canary, "promoted", variant("challenger", 1))
    canary.endpoint_faults.fail_next_update.add("serving")
    # When it is updated and its deployment time passes
    sagemaker.update_endpoint(EndpointName="serving", EndpointConfigName="promoted")
    assert sagemaker.describe_endpoint(EndpointName="serving")["EndpointStatus"] == "Updating"
    canary.advance(seconds=canary.hosting.deploy_seconds)
    # Then it is InService on the old configuration, with nothing said
    endpoint = sagemaker.describe_endpoint(EndpointName="serving")
    assert (endpoint["EndpointStatus"], endpoint["EndpointConfigName"]) == ("InService", "canary")
    assert "FailureReason" not in endpoint
    assert weights(canary, "serving") == {"champion": 90, "challenger": 10}
    # And the next update succeeds
    sagemaker.update_endpoint(EndpointName="serving", EndpointConfigName="promoted")
    canary.advance(seconds=canary.hosting.deploy_seconds)
    assert weights(canary, "serving") == {"challenger": 1}


def test_fix_an_update_that_removes_an_auto_scaled_variant_is_refused(canary: LocalCloud) -> None:
    canary.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/serving/variant/champion",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=4,
    )
    sagemaker = canary.client("sagemaker")
    configure(canary, "promoted", variant("challenger", 1))
    with pytest.raises(ClientError, match="Deregister the scalable targets") as error:
        sagemaker.update_endpoint(EndpointName="serving", EndpointConfigName="promoted")
    assert error.value.response["Error"]["Code"] == "ValidationException"
    # A new model for the scaled variant is allowed, as on AWS
    configure(canary, "retrained", variant("champion", 90, model="challenger"), variant("challenger", 10))
    sagemaker.update_endpoint(EndpointName="serving", EndpointConfigName="retrained")
    assert sagemaker.describe_endpoint(EndpointName="serving")["EndpointStatus"] == "Updating"


def test_fix_traffic_is_sent_at_its_own_moments_while_time_advances(canary: LocalCloud) -> None:
    origin = canary.clock.now()
    stream = canary.traffic.start("serving", ROWS, per_second=2)
    canary.advance(seconds=30)
    # The k-th request goes k half-seconds in: never early, late only by the wall time the process took
    # (stack time is real time plus every advance), not at the end of the advance
    moments = [request.at for request in stream.log]
    assert len(moments) == 60
    due = [origin + timedelta(seconds=0.5 * (k + 1)) for k in range(60)]
    assert all(moment <= at < moment + timedelta(seconds=1) for moment, at in zip(due, moments, strict=True))
    assert moments == sorted(moments)
    assert all(r.ok and r.latency_ms is not None and r.variant in {"champion", "challenger"} for r in stream.log)
    # Each request's metrics carry its own moment
    stamps = {d.timestamp for d in variant_metrics(canary, "champion")["Invocations"]}
    assert max(stamps) - min(stamps) > timedelta(seconds=25)
    stream.stop()
    canary.advance(seconds=10)
    assert len(canary.traffic.log) == 60


def test_fix_alarms_are_evaluated_between_requests(canary: LocalCloud) -> None:
    # Given an alarm on the challenger's errors, and a controller that takes its traffic away on alarm
    canary.client("cloudwatch").put_metric_alarm(
        AlarmName="challenger-5xx",
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Dimensions=[{"Name": "EndpointName", "Value": "serving"}, {"Name": "VariantName", "Value": "challenger"}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    rolled_back = []

    def controller() -> None:
        alarm = canary.client("cloudwatch").describe_alarms(AlarmNames=["challenger-5xx"])["MetricAlarms"][0]
        if alarm["StateValue"] == "ALARM" and not rolled_back:
            canary.client("sagemaker").update_endpoint_weights_and_capacities(
                EndpointName="serving", DesiredWeightsAndCapacities=[{"VariantName": "challenger", "DesiredWeight": 0}]
            )
            rolled_back.append(canary.clock.now())

    canary.tickers.append(controller)
    # When the challenger fails every request under steady traffic for three minutes
    canary.endpoint_faults.variant("serving", "challenger", error_rate=1.0)
    canary.traffic.start("serving", ROWS, per_second=4)
    canary.advance(minutes=3)
    # Then the rollback came at the first whole minute after the first error (CloudWatch evaluates
    # alarms on the minute), and no request reached the challenger after it
    [rolled_back_at] = rolled_back
    errors = [r for r in canary.traffic.log if r.error == "ModelError"]
    assert errors
    assert rolled_back_at - errors[0].at <= timedelta(seconds=61)
    assert rolled_back_at.second == 0
    assert all(r.at < rolled_back_at for r in canary.traffic.log if r.variant == "challenger")
    assert any(r.at > rolled_back_at + timedelta(minutes=1) for r in canary.traffic.log)


def test_fix_data_capture_writes_json_lines_encrypted_as_the_models_role() -> None:
    with endpoint_cloud() as cloud:
        # Given a key, and a model role that may write captured data with it
        key = cloud.client("kms").create_key()["KeyMetadata"]["Arn"]
        write = [
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/capture/*"},
            {"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": key},
        ]
        cloud.client("iam").put_role_policy(
            RoleName="model",
            PolicyName="capture",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": write}),
        )
        capture = {
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": f"s3://{BUCKET}/capture",
            "KmsKeyId": key,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
        }
        deploy(cloud, "serving", "captured", variant("champion", 1), DataCaptureConfig=capture)
        answers = [invoke(cloud, "serving", row, InferenceId=f"request-{i}")[1] for i, row in enumerate(ROWS[:3])]
        cloud.advance(seconds=1)
        s3 = cloud.client("s3")
        first = cloud.hosting.invocations[0].at
        [listed] = s3.list_objects_v2(Bucket=BUCKET, Prefix="capture/")["Contents"]
        assert listed["Key"].startswith(f"capture/serving/champion/{first:%Y/%m/%d/%H}/{first:%M-%S}-")
        assert listed["Key"].endswith(".jsonl")
        stored = s3.get_object(Bucket=BUCKET, Key=listed["Key"])
        assert (stored["ServerSideEncryption"], stored["SSEKMSKeyId"]) == ("aws:kms", key)
        lines = [json.loads(line) for line in stored["Body"].read().decode().splitlines()]
        assert [line["captureData"]["endpointInput"]["data"] for line in lines] == ROWS[:3]
        assert [line["captureData"]["endpointOutput"]["data"] for line in lines] == answers
        assert [line["eventMetadata"]["inferenceId"] for line in lines] == ["request-0", "request-1", "request-2"]
        assert {line["captureData"]["endpointInput"]["encoding"] for line in lines} == {"CSV"}


def test_fix_captured_data_the_role_may_not_write_is_dropped() -> None:
    with endpoint_cloud() as cloud:
        # Given a capture destination the model's role may not write to
        capture = {
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": f"s3://{BUCKET}/capture",
            "CaptureOptions": [{"CaptureMode": "InputAndOutput"}],
        }
        deploy(cloud, "serving", "captured", variant("champion", 1), DataCaptureConfig=capture)
        invoke(cloud, "serving", ROWS[0])
        cloud.advance(seconds=1)
        # Then nothing is written, and the refused write is kept with its reason
        assert "Contents" not in cloud.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="capture/")
        [(source, target, why)] = cloud.undelivered
        assert source == cloud.client("sagemaker").describe_endpoint(EndpointName="serving")["EndpointArn"]
        assert target.startswith(f"s3://{BUCKET}/capture/serving/champion/")
        assert "AccessDenied" in why


@pytest.mark.parametrize("faults", [{"error_rate": 1.5}, {"latency_ms": -1}])
def test_faults_out_of_range_are_refused(faults: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must be between 0 and 1|cannot be negative"):
        EndpointFaults().variant("serving", "challenger", **faults)
