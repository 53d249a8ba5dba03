"""The local CloudTrail's events have the shape of the AWS documentation's examples (tests/fixtures/cloudtrail/).

Each local event is compared with the documented record of the same call, or, where the
documentation has none, with the record of the same service whose request has the same form
(the fixtures' README says which and why). Values differ (accounts, times, ids); the fields, the
identity's fields, and the form of parameters and responses must not.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.conftest import FIXTURES
from tests.localcloud.trail_stack import catch_events, trail_cloud

pytestmark = pytest.mark.localcloud

DOCUMENTED = FIXTURES / "cloudtrail"
# Record fields that only some calls have: a console session's, a VPC endpoint's.
SITUATIONAL = {"sessionCredentialFromConsole", "vpcEndpointId", "sharedEventID"}
LOWER_CAMEL = re.compile(r"^[a-z][A-Za-z0-9]*$")
# Local eventName -> the documented record it is compared with.
COMPARED = {
    "DisableKey": "kms_disable_key.json",
    "ScheduleKeyDeletion": "kms_schedule_key_deletion.json",
    "CancelKeyDeletion": "kms_cancel_key_deletion.json",
    "StopLogging": "cloudtrail_start_logging.json",
    "UpdateTrail": "cloudtrail_start_logging.json",
    "AttachRolePolicy": "iam_add_user_to_group.json",
    "PutRolePolicy": "iam_add_user_to_group.json",
    "PutBucketAcl": "s3_put_bucket_acl.json",
    "PutBucketPublicAccessBlock": "s3_put_bucket_acl.json",
    "PutBucketVersioning": "s3_put_bucket_acl.json",
    "PutBucketPolicy": "s3_put_bucket_acl.json",
    "DeleteBucketPublicAccessBlock": "s3_get_bucket_versioning.json",
    "DeleteBucketEncryption": "s3_get_bucket_versioning.json",
}


def documented(name: str) -> dict[str, Any]:
    record: dict[str, Any] = json.loads((DOCUMENTED / name).read_text(encoding="utf-8"))
    return {k: v for k, v in record.items() if not k.startswith("_")}


def form(value: Any) -> Any:
    """A value's form: its type, and its fields' forms, names compared case-insensitively.

    A one-element list has the form of its element (2019's S3 records list ``host`` and the
    subresource; CloudTrail's current ones do not).
    """
    if isinstance(value, list) and len(value) == 1:
        return form(value[0])
    if isinstance(value, dict):
        return {k.lower(): form(v) for k, v in value.items()}
    return type(value).__name__


def test_the_documented_examples_are_records_of_the_calls_they_name() -> None:
    for path in sorted(DOCUMENTED.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        assert record["_source"].startswith("https://docs.aws.amazon.com/"), path.name
        if "eventName" in record:
            assert record["eventSource"].endswith(".amazonaws.com"), path.name


def test_every_event_has_the_documented_eventbridge_envelope(intrusion: dict[str, dict[str, Any]]) -> None:
    structure = documented("eventbridge_event_structure.json")
    for name, event in intrusion.items():
        assert set(event) == set(structure), name
        assert event["source"] == "aws." + event["detail"]["eventSource"].split(".")[0], name


@pytest.mark.parametrize(("event_name", "example"), sorted(COMPARED.items()))
def test_a_record_has_every_field_of_the_documented_one(
    intrusion: dict[str, dict[str, Any]], event_name: str, example: str
) -> None:
    local, record = intrusion[event_name]["detail"], documented(example)
    assert set(record) - SITUATIONAL <= set(local)
    for field in ("eventVersion", "eventTime", "readOnly", "eventType", "recipientAccountId"):
        if field in record:
            assert type(local[field]) is type(record[field]), field
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", local["eventTime"])


@pytest.mark.parametrize(("event_name", "example"), sorted(COMPARED.items()))
def test_an_iam_users_identity_has_the_documented_fields(
    intrusion: dict[str, dict[str, Any]], event_name: str, example: str
) -> None:
    identity, record = intrusion[event_name]["detail"]["userIdentity"], documented(example)["userIdentity"]
    # A console session adds sessionContext to a user's identity; the intruder used an access key.
    assert set(identity) == set(record) - {"sessionContext"}
    assert identity["type"] == record["type"] == "IAMUser"


@pytest.mark.parametrize("event_name", ["DisableKey", "ScheduleKeyDeletion", "CancelKeyDeletion"])
def test_a_call_documented_by_name_has_the_documented_parameters_response_and_resources(
    intrusion: dict[str, dict[str, Any]], event_name: str
) -> None:
    local, record = intrusion[event_name]["detail"], documented(COMPARED[event_name])
    assert record["eventName"] == event_name
    assert form(local["requestParameters"]) == form(record["requestParameters"])
    if record["responseElements"] is None:
        assert local["responseElements"] is None
    else:
        assert form(record["responseElements"]).items() <= form(local["responseElements"]).items()
    [resource], [documented_resource] = local["resources"], record["resources"]
    assert set(documented_resource) <= set(resource)


def test_s3_bucket_calls_have_the_documented_form_of_request(intrusion: dict[str, dict[str, Any]]) -> None:
    acl = documented("s3_put_bucket_acl.json")["requestParameters"]
    versioning = documented("s3_get_bucket_versioning.json")["requestParameters"]
    assert set(form(versioning)) == {"bucketname", "host", "versioning"}
    body_of = {
        "PutBucketAcl": None,
        "DeleteBucketPublicAccessBlock": None,
        "DeleteBucketEncryption": None,
        "PutBucketPublicAccessBlock": "PublicAccessBlockConfiguration",
        "PutBucketVersioning": "VersioningConfiguration",
        "PutBucketEncryption": "ServerSideEncryptionConfiguration",
        "PutBucketLogging": "BucketLoggingStatus",
    }
    for name, element in body_of.items():
        parameters = intrusion[name]["detail"]["requestParameters"]
        # The bucket, its host, and the subresource set to "" (as 'acl' is)
        assert {"bucketname", "host"} <= set(form(parameters)), name
        assert [v for k, v in parameters.items() if k[0].islower() and v == ""], name
        if element is not None:
            # The XML body under its own element name, with S3's namespace (as AccessControlPolicy is)
            assert parameters[element]["xmlns"] == acl["AccessControlPolicy"]["xmlns"], name


def test_calls_of_json_and_query_services_name_their_parameters_in_lower_camel_case(
    intrusion: dict[str, dict[str, Any]],
) -> None:
    for name in (
        "StopLogging",
        "UpdateTrail",
        "AttachRolePolicy",
        "PutRolePolicy",
        "ScheduleKeyDeletion",
        "DeleteEndpoint",
    ):
        parameters = intrusion[name]["detail"]["requestParameters"]
        assert parameters, name
        assert all(LOWER_CAMEL.match(k) for k in parameters), (name, parameters)
    # As the documented StartLogging names its trail
    assert set(intrusion["StopLogging"]["detail"]["requestParameters"]) == set(
        documented("cloudtrail_start_logging.json")["requestParameters"]
    )


def test_a_refused_call_has_the_documented_error_fields(intrusion: dict[str, dict[str, Any]]) -> None:
    record, local = documented("cloudtrail_update_trail_error.json"), intrusion["PutKeyPolicy"]["detail"]
    assert set(record) <= set(local)
    assert list(local).index("errorCode") < list(local).index("requestParameters")
    assert (type(local["errorCode"]), type(local["errorMessage"])) == (str, str)
    assert local["responseElements"] is None


def test_a_role_sessions_identity_has_the_documented_fields() -> None:
    record = documented("user_identity_assumed_role.json")["userIdentity"]
    with trail_cloud() as cloud:
        caught = catch_events(cloud)
        cloud.client("s3", principal=cloud.outputs["StackRoleArn"]).put_bucket_versioning(
            Bucket=cloud.outputs["GuardedBucketName"], VersioningConfiguration={"Status": "Enabled"}
        )
        [event] = caught()
    identity = event["detail"]["userIdentity"]
    assert set(record) == set(identity)
    assert set(record["sessionContext"]) <= set(identity["sessionContext"])
    assert form(record["sessionContext"]["sessionIssuer"]) == form(identity["sessionContext"]["sessionIssuer"])
    assert set(record["sessionContext"]["attributes"]) == set(identity["sessionContext"]["attributes"])


def test_a_created_role_is_logged_as_documented() -> None:
    record = documented("iam_create_role.json")
    with trail_cloud() as cloud:
        caught = catch_events(cloud)
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
        }
        cloud.client("iam").create_role(RoleName="TestRole", AssumeRolePolicyDocument=json.dumps(trust))
        [event] = caught()
    local = event["detail"]
    assert set(local["requestParameters"]) == set(record["requestParameters"])
    assert set(record["responseElements"]["role"]) <= set(local["responseElements"]["role"])
    assert re.fullmatch(
        r"[A-Z][a-z]{2} \d{1,2}, \d{4},? \d{1,2}:\d\d:\d\d [AP]M", local["responseElements"]["role"]["createDate"]
    )
