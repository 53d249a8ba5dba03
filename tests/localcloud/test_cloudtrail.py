"""A local CloudTrail: what anyone changes reaches EventBridge as "AWS API Call via CloudTrail", as on AWS.

An intruder (the IAM user mallory) weakens the trail fixture stack; a rule on the default bus
forwards CloudTrail's events to a queue, where they are read as a subscriber would read them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.adapters.cloudtrail_events import cloudtrail_events
from tests.conftest import FIXTURES
from tests.localcloud.trail_stack import MALLORY, catch_events, intruder, names, trail_cloud

pytestmark = pytest.mark.localcloud

OPEN_BLOCK = dict.fromkeys(("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), False)


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    with trail_cloud() as deployed:
        yield deployed


def detail(event: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = event["detail"]
    return found


def test_gap_moto_delivers_no_cloudtrail_event() -> None:
    with trail_cloud(without=[cloudtrail_events]) as cloud:
        # Given a logging trail and a rule for CloudTrail's events
        assert cloud.client("cloudtrail").get_trail_status(Name=cloud.outputs["TrailName"])["IsLogging"]
        caught = catch_events(cloud)
        # When someone suspends a bucket's versioning
        cloud.client("s3").put_bucket_versioning(
            Bucket=cloud.outputs["GuardedBucketName"], VersioningConfiguration={"Status": "Suspended"}
        )
        # Then nothing reaches the rule
        assert caught() == []


def test_fix_an_intruders_call_arrives_as_cloudtrail_delivers_it(cloud: LocalCloud) -> None:
    caught = catch_events(cloud)
    mallory = cloud.client("s3", principal=intruder(cloud, "s3:PutBucketPublicAccessBlock"))
    bucket = cloud.outputs["GuardedBucketName"]
    # When mallory opens the bucket's public access block
    mallory.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=OPEN_BLOCK)
    # Then the rule receives the call, named as CloudTrail names it, with mallory's identity
    [event] = [e for e in caught() if detail(e)["userIdentity"].get("userName") == "mallory"]
    assert {k: event[k] for k in ("detail-type", "source", "account", "region", "resources")} == {
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.s3",
        "account": cloud.account_id,
        "region": cloud.region,
        "resources": [],
    }
    call = detail(event)
    assert (call["eventSource"], call["eventName"]) == ("s3.amazonaws.com", "PutBucketPublicAccessBlock")
    identity = call["userIdentity"]
    assert (identity["type"], identity["arn"], identity["userName"]) == ("IAMUser", MALLORY, "mallory")
    assert identity["accessKeyId"].startswith("AKIA")
    assert call["requestParameters"]["bucketName"] == bucket
    assert call["requestParameters"]["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is False
    assert (call["responseElements"], call["readOnly"], call["managementEvent"]) == (None, False, True)
    assert (call["eventType"], call["eventCategory"], call["recipientAccountId"]) == (
        "AwsApiCall",
        "Management",
        cloud.account_id,
    )


@pytest.mark.parametrize(
    ("event_name", "source", "event_source", "parameters"),
    [
        ("PutBucketPublicAccessBlock", "aws.s3", "s3.amazonaws.com", {"publicAccessBlock": ""}),
        ("DeleteBucketPublicAccessBlock", "aws.s3", "s3.amazonaws.com", {"publicAccessBlock": ""}),
        (
            "PutBucketVersioning",
            "aws.s3",
            "s3.amazonaws.com",
            {"VersioningConfiguration": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/", "Status": "Suspended"}},
        ),
        ("PutBucketPolicy", "aws.s3", "s3.amazonaws.com", {"policy": ""}),
        ("DeleteBucketEncryption", "aws.s3", "s3.amazonaws.com", {"encryption": ""}),
        (
            "PutBucketLogging",
            "aws.s3",
            "s3.amazonaws.com",
            {"BucketLoggingStatus": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"}},
        ),
        ("PutBucketAcl", "aws.s3", "s3.amazonaws.com", {"acl": "", "x-amz-acl": "public-read"}),
        ("ScheduleKeyDeletion", "aws.kms", "kms.amazonaws.com", {"pendingWindowInDays": 7}),
        ("StopLogging", "aws.cloudtrail", "cloudtrail.amazonaws.com", {}),
        (
            "AttachRolePolicy",
            "aws.iam",
            "iam.amazonaws.com",
            {"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        ),
        ("DeleteRolePolicy", "aws.iam", "iam.amazonaws.com", {"policyName": "backdoor"}),
        ("DeleteEndpoint", "aws.sagemaker", "sagemaker.amazonaws.com", {"endpointName": "serving"}),
        (
            "CreateDeployment",
            "aws.greengrass",
            "greengrass.amazonaws.com",
            {"targetArn": "arn:aws:iot:us-east-1:123456789012:thinggroup/fleet"},
        ),
    ],
)
def test_each_call_is_named_sourced_and_parameterised_as_cloudtrail_logs_it(
    intrusion: dict[str, dict[str, Any]], event_name: str, source: str, event_source: str, parameters: dict[str, Any]
) -> None:
    event = intrusion[event_name]
    assert (event["source"], detail(event)["eventSource"]) == (source, event_source)
    assert parameters.items() <= detail(event)["requestParameters"].items()


def test_s3_bodies_are_logged_under_their_xml_element_names(intrusion: dict[str, dict[str, Any]]) -> None:
    policy = detail(intrusion["PutBucketPolicy"])["requestParameters"]["bucketPolicy"]
    assert policy["Statement"][0]["Principal"] == "*"
    encryption = detail(intrusion["PutBucketEncryption"])["requestParameters"]["ServerSideEncryptionConfiguration"]
    assert encryption["Rule"] == {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}


def test_kms_and_iam_parameters_are_in_lower_camel_case(intrusion: dict[str, dict[str, Any]]) -> None:
    assert set(detail(intrusion["DisableKey"])["requestParameters"]) == {"keyId"}
    assert set(detail(intrusion["AttachRolePolicy"])["requestParameters"]) == {"roleName", "policyArn"}
    assert set(detail(intrusion["UpdateAssumeRolePolicy"])["requestParameters"]) == {"roleName", "policyDocument"}
    assert detail(intrusion["StopLogging"])["requestParameters"] == {
        "name": detail(intrusion["UpdateTrail"])["requestParameters"]["name"]
    }


def test_responses_are_logged_where_cloudtrail_logs_them(intrusion: dict[str, dict[str, Any]]) -> None:
    scheduled = detail(intrusion["ScheduleKeyDeletion"])["responseElements"]
    assert (scheduled["keyState"], scheduled["keyId"]) == (
        "PendingDeletion",
        detail(intrusion["DisableKey"])["resources"][0]["ARN"],
    )
    for name in ("DisableKey", "StopLogging", "AttachRolePolicy", "PutBucketVersioning"):
        assert detail(intrusion[name])["responseElements"] is None, name


def test_a_refused_call_is_logged_with_its_error(intrusion: dict[str, dict[str, Any]]) -> None:
    refused = detail(intrusion["PutKeyPolicy"])
    assert refused["errorCode"] == "AccessDeniedException"
    assert "is not authorized to perform: kms:PutKeyPolicy" in refused["errorMessage"]
    assert refused["responseElements"] is None
    failed = detail(intrusion["DeleteEndpoint"])
    assert failed["errorCode"] == "ValidationException"


def test_read_only_calls_and_data_events_are_not_delivered(cloud: LocalCloud) -> None:
    caught = catch_events(cloud)
    mallory = intruder(cloud, "s3:*", "kms:*", "cloudtrail:*")
    caught()
    bucket, key = cloud.outputs["GuardedBucketName"], cloud.outputs["TrailKeyArn"]
    s3, kms = cloud.client("s3", principal=mallory), cloud.client("kms", principal=mallory)
    # Reads of the stack's configuration
    s3.get_public_access_block(Bucket=bucket)
    s3.get_bucket_versioning(Bucket=bucket)
    kms.describe_key(KeyId=key)
    cloud.client("cloudtrail", principal=mallory).get_trail_status(Name=cloud.outputs["TrailName"])
    # Data events: objects, and the key's cryptographic use
    s3.put_object(Bucket=bucket, Key="loot.csv", Body=b"1,2")
    s3.get_object(Bucket=bucket, Key="loot.csv")
    s3.list_objects_v2(Bucket=bucket)
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "loot.csv"}]})
    kms.encrypt(KeyId=key, Plaintext=b"x")
    assert caught() == []


def test_nothing_is_delivered_while_logging_is_stopped(cloud: LocalCloud) -> None:
    caught = catch_events(cloud)
    cloudtrail, s3 = cloud.client("cloudtrail"), cloud.client("s3")
    trail, bucket = cloud.outputs["TrailName"], cloud.outputs["GuardedBucketName"]

    def suspend_versioning() -> None:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})

    # StopLogging is itself delivered; what follows it is not
    cloudtrail.stop_logging(Name=trail)
    suspend_versioning()
    assert names(caught()) == ["StopLogging"]
    # StartLogging is delivered, and so is what follows it
    cloudtrail.start_logging(Name=trail)
    suspend_versioning()
    assert names(caught()) == ["StartLogging", "PutBucketVersioning"]


def test_a_trail_that_selects_no_management_events_delivers_none(cloud: LocalCloud) -> None:
    caught = catch_events(cloud)
    cloud.client("cloudtrail").put_event_selectors(
        TrailName=cloud.outputs["TrailName"],
        EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": False}],
    )
    cloud.client("s3").delete_public_access_block(Bucket=cloud.outputs["GuardedBucketName"])
    assert names(caught()) == ["PutEventSelectors"]


def test_a_role_sessions_call_names_its_issuer_with_the_roles_path(cloud: LocalCloud) -> None:
    caught = catch_events(cloud)
    role = cloud.outputs["StackRoleArn"]
    role_name = role.rsplit("/", 1)[-1]
    assert role == f"arn:aws:iam::{cloud.account_id}:role/conveyor/dev/{role_name}"
    # When the stack's role (path /conveyor/dev/) suspends versioning
    s3 = cloud.client("s3", principal=role)
    s3.put_bucket_versioning(Bucket=cloud.outputs["GuardedBucketName"], VersioningConfiguration={"Status": "Enabled"})
    [event] = caught()
    identity = detail(event)["userIdentity"]
    # Then the session's ARN names the role without its path, and its issuer with it
    assert identity["type"] == "AssumedRole"
    assert identity["arn"].startswith(f"arn:aws:sts::{cloud.account_id}:assumed-role/{role_name}/")
    issuer = identity["sessionContext"]["sessionIssuer"]
    assert (issuer["type"], issuer["arn"], issuer["userName"]) == ("Role", role, role_name)
    assert identity["principalId"] == f"{issuer['principalId']}:{identity['arn'].rsplit('/', 1)[-1]}"


def test_calls_cloudformation_made_once_the_trail_logged_carry_invoked_by(cloud: LocalCloud) -> None:
    assert cloud.cloudtrail is not None
    bucket = cloud.outputs["GuardedBucketName"]
    during_deploy = [e for e in cloud.cloudtrail.recent if detail(e)["requestParameters"].get("bucketName") == bucket]
    assert names(during_deploy) == ["PutBucketVersioning", "PutBucketPublicAccessBlock"]
    for event in during_deploy:
        call = detail(event)
        assert call["userIdentity"]["invokedBy"] == "cloudformation.amazonaws.com"
        assert call["sourceIPAddress"] == call["userAgent"] == "cloudformation.amazonaws.com"


def test_a_service_principals_call_is_logged_as_the_service(cloud: LocalCloud) -> None:
    caught = catch_events(cloud)
    service = cloud.client("s3", principal="logging.s3.amazonaws.com", source_arn="arn:aws:s3:::elsewhere")
    with pytest.raises(ClientError):
        service.put_bucket_versioning(
            Bucket=cloud.outputs["GuardedBucketName"], VersioningConfiguration={"Status": "Enabled"}
        )
    [event] = caught()
    call = detail(event)
    assert call["userIdentity"] == {"type": "AWSService", "invokedBy": "logging.s3.amazonaws.com"}
    assert (call["sourceIPAddress"], call["errorCode"]) == ("logging.s3.amazonaws.com", "AccessDenied")


def test_a_functions_call_is_logged_as_its_roles_session(cloud: LocalCloud) -> None:
    caught = catch_events(cloud)
    bucket = cloud.outputs["GuardedBucketName"]
    grant = {"Effect": "Allow", "Action": ["s3:PutBucketVersioning", "s3:GetBucketVersioning"], "Resource": "*"}
    policy = {"Version": "2012-10-17", "Statement": [grant]}
    function = cloud.deploy_function("versioning", FIXTURES / "functions" / "versioning", policy=policy)
    caught()  # deploying the function is the administrator's doing
    # When the function suspends the bucket's versioning, as its role
    reply = cloud.client("lambda").invoke(
        FunctionName=function, Payload=json.dumps({"bucket": bucket, "status": "Suspended"}).encode()
    )
    assert json.loads(reply["Payload"].read()) == {"status": "Suspended"}
    # Then the call is the role's session's, made by the handler itself (no invokedBy), the read not delivered
    [event] = caught()
    identity = detail(event)["userIdentity"]
    assert (detail(event)["eventName"], identity["type"]) == ("PutBucketVersioning", "AssumedRole")
    assert identity["sessionContext"]["sessionIssuer"]["userName"] == "versioning-role"
    assert "invokedBy" not in identity
    assert detail(event)["userAgent"].startswith("Boto3/")


def test_a_state_machines_call_is_logged_as_its_role_invoked_by_step_functions(cloud: LocalCloud) -> None:
    caught = catch_events(cloud)
    bucket = cloud.outputs["GuardedBucketName"]
    definition = {
        "StartAt": "Suspend versioning",
        "States": {
            "Suspend versioning": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:putBucketVersioning",
                "Parameters": {"Bucket": bucket, "VersioningConfiguration": {"Status": "Suspended"}},
                "End": True,
            }
        },
    }
    description = cloud.run_state_machine("suspender", definition)
    assert description["status"] == "SUCCEEDED"
    [event] = [e for e in caught() if detail(e)["eventName"] == "PutBucketVersioning"]
    identity = detail(event)["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["sessionContext"]["sessionIssuer"]["userName"] == "suspender-role"
    assert identity["invokedBy"] == "states.amazonaws.com"


def test_events_reach_a_state_machine_target_as_any_event_does(cloud: LocalCloud) -> None:
    # Given a rule on StopLogging whose target is a state machine that records what it received
    sfn, events, iam = cloud.client("stepfunctions"), cloud.client("events"), cloud.client("iam")
    machine = sfn.create_state_machine(
        name="responder",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
        roleArn=iam.create_role(
            RoleName="responder-machine",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "states.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]["Arn"],
    )["stateMachineArn"]
    invoker = iam.create_role(
        RoleName="rule-starts-responder",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]
    iam.put_role_policy(
        RoleName="rule-starts-responder",
        PolicyName="start",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "states:StartExecution", "Resource": machine}],
            }
        ),
    )
    pattern = {"source": ["aws.cloudtrail"], "detail": {"eventName": ["StopLogging"]}}
    events.put_rule(Name="trail-tampering", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="trail-tampering", Targets=[{"Id": "responder", "Arn": machine, "RoleArn": invoker}])
    # When mallory stops the trail
    mallory = intruder(cloud, "cloudtrail:StopLogging")
    cloud.client("cloudtrail", principal=mallory).stop_logging(Name=cloud.outputs["TrailArn"])
    cloud.run_until_idle()
    # Then the state machine ran once, on CloudTrail's event
    [execution] = sfn.list_executions(stateMachineArn=machine)["executions"]
    received = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert received["detail-type"] == "AWS API Call via CloudTrail"
    assert received["detail"]["userIdentity"]["arn"] == MALLORY
    assert received["detail"]["requestParameters"] == {"name": cloud.outputs["TrailArn"]}
