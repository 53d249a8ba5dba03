"""The security flow end to end: an intruder weakens the stack, the responder undoes what is safe,
freezes releases, records the finding and alerts; releases stay frozen until an operator lifts it.

The intruder is an IAM user of the account (not one of the stack's roles); what it does reaches
the responder through the stack's own trail and EventBridge rules, as on AWS.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conveyor.schema import load_schema
from conveyor.state.control import freeze_state
from conveyor.state.findings import FindingRecord, get_finding, list_findings
from conveyor_tools.stack import described_executions, executions, messages, model_packages, training_jobs, upload
from conveyor_tools.synthetic import csv_text, records
from localcloud import LocalCloud
from tests.conftest import TEMPLATE
from tests.helpers import subscribed_queue
from tests.localcloud.trail_stack import INTRUDER_ACTIONS, PUBLIC_READ, TRUST_ANYONE, intruder

pytestmark = pytest.mark.localcloud

PARAMETERS = {"MinNewRows": "20", "EdgeThingGroup": "conveyor-dev-fleet"}
ADMINISTRATOR = "arn:aws:iam::aws:policy/AdministratorAccess"


@pytest.fixture
def stack() -> Iterator[LocalCloud]:
    with LocalCloud.from_template(TEMPLATE, parameters=PARAMETERS) as cloud:
        yield cloud


@dataclass(frozen=True)
class Tampering:
    """One call that weakens the stack, and how to tell that the responder undid it."""

    event_name: str
    act: Callable[[LocalCloud, str], None]
    restored: Callable[[LocalCloud], bool] | None = None
    """Whether the setting is back as template.yaml has it; None where undoing is left to a human."""
    manual: str = ""
    """The AWS CLI command the alert must name, where the responder cannot undo the change."""


def _s3(cloud: LocalCloud, mallory: str) -> tuple[Any, str]:
    return cloud.client("s3", principal=mallory), cloud.outputs["DataBucketName"]


def _admin_s3(cloud: LocalCloud) -> tuple[Any, str]:
    return cloud.client("s3"), cloud.outputs["DataBucketName"]


def _public_access_blocked(cloud: LocalCloud) -> bool:
    s3, bucket = _admin_s3(cloud)
    return all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())


def _encrypted_with_the_stack_key(cloud: LocalCloud) -> bool:
    s3, bucket = _admin_s3(cloud)
    [rule] = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    default = rule["ApplyServerSideEncryptionByDefault"]
    return default == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": cloud.outputs["KeyArn"]}


def _versioned(cloud: LocalCloud) -> bool:
    s3, bucket = _admin_s3(cloud)
    return s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled"


def _tls_only_policy(cloud: LocalCloud) -> bool:
    s3, bucket = _admin_s3(cloud)
    statements = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    return [(s["Sid"], s["Effect"]) for s in statements] == [("DenyInsecureTransport", "Deny")]


def _logged(cloud: LocalCloud) -> bool:
    s3, bucket = _admin_s3(cloud)
    logging = s3.get_bucket_logging(Bucket=bucket).get("LoggingEnabled", {})
    return logging.get("TargetBucket") == cloud.outputs["LogBucketName"]


def _trail_logging(cloud: LocalCloud) -> bool:
    return bool(cloud.client("cloudtrail").get_trail_status(Name=cloud.outputs["TrailArn"])["IsLogging"])


def _key_enabled(cloud: LocalCloud) -> bool:
    metadata = cloud.client("kms").describe_key(KeyId=cloud.outputs["KeyArn"])["KeyMetadata"]
    return metadata["KeyState"] == "Enabled" and "DeletionDate" not in metadata


def _ingest_role(cloud: LocalCloud) -> str:
    return cloud.physical_ids["IngestFunctionRole"]


TAMPERING = [
    Tampering(
        "PutBucketPublicAccessBlock",
        lambda cloud, mallory: _s3(cloud, mallory)[0].put_public_access_block(
            Bucket=_s3(cloud, mallory)[1],
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": False,
                "IgnorePublicAcls": False,
                "BlockPublicPolicy": False,
                "RestrictPublicBuckets": False,
            },
        ),
        _public_access_blocked,
    ),
    Tampering(
        "DeleteBucketPublicAccessBlock",
        lambda cloud, mallory: _s3(cloud, mallory)[0].delete_public_access_block(Bucket=_s3(cloud, mallory)[1]),
        _public_access_blocked,
    ),
    Tampering(
        "DeleteBucketEncryption",
        lambda cloud, mallory: _s3(cloud, mallory)[0].delete_bucket_encryption(Bucket=_s3(cloud, mallory)[1]),
        _encrypted_with_the_stack_key,
    ),
    Tampering(
        "PutBucketVersioning",
        lambda cloud, mallory: _s3(cloud, mallory)[0].put_bucket_versioning(
            Bucket=_s3(cloud, mallory)[1], VersioningConfiguration={"Status": "Suspended"}
        ),
        _versioned,
    ),
    Tampering(
        "PutBucketPolicy",
        lambda cloud, mallory: _s3(cloud, mallory)[0].put_bucket_policy(
            Bucket=_s3(cloud, mallory)[1], Policy=json.dumps(PUBLIC_READ)
        ),
        _tls_only_policy,
    ),
    Tampering(
        "PutBucketLogging",
        lambda cloud, mallory: _s3(cloud, mallory)[0].put_bucket_logging(
            Bucket=_s3(cloud, mallory)[1], BucketLoggingStatus={}
        ),
        _logged,
    ),
    Tampering(
        "StopLogging",
        lambda cloud, mallory: cloud.client("cloudtrail", principal=mallory).stop_logging(
            Name=cloud.outputs["TrailArn"].rsplit("/", 1)[-1]
        ),
        _trail_logging,
    ),
    Tampering(
        "DisableKey",
        lambda cloud, mallory: cloud.client("kms", principal=mallory).disable_key(KeyId=cloud.outputs["KeyArn"]),
        _key_enabled,
    ),
    Tampering(
        "ScheduleKeyDeletion",
        lambda cloud, mallory: cloud.client("kms", principal=mallory).schedule_key_deletion(
            KeyId=cloud.outputs["KeyArn"], PendingWindowInDays=7
        ),
        _key_enabled,
    ),
    Tampering(
        "AttachRolePolicy",
        lambda cloud, mallory: cloud.client("iam", principal=mallory).attach_role_policy(
            RoleName=_ingest_role(cloud), PolicyArn=ADMINISTRATOR
        ),
        manual="aws iam detach-role-policy",
    ),
    Tampering(
        "UpdateAssumeRolePolicy",
        lambda cloud, mallory: cloud.client("iam", principal=mallory).update_assume_role_policy(
            RoleName=_ingest_role(cloud), PolicyDocument=json.dumps(TRUST_ANYONE)
        ),
        manual="aws iam update-assume-role-policy",
    ),
]


def responder_events(cloud: LocalCloud) -> list[str]:
    """The eventName of every event the responder received."""
    name = cloud.outputs["ResponderFunctionName"]
    return [i.event["detail"]["eventName"] for i in cloud.runtime.invocations if i.function_name == name]


@pytest.mark.parametrize("tampering", TAMPERING, ids=lambda t: t.event_name)
def test_each_tampering_call_is_caught_undone_where_safe_frozen_and_alerted(
    stack: LocalCloud, tampering: Tampering
) -> None:
    # Given an intruder in the account, and the notification topic read by a queue
    alerts = subscribed_queue(stack, stack.outputs["NotificationTopicArn"], "alerts")
    mallory = intruder(stack, *INTRUDER_ACTIONS)
    # When it weakens the stack
    tampering.act(stack, mallory)
    stack.run_until_idle()
    # Then the rule delivered the call to the responder
    assert tampering.event_name in responder_events(stack)
    # And the setting is back as template.yaml has it, where undoing it is safe
    if tampering.restored is not None:
        assert tampering.restored(stack), f"{tampering.event_name} was not undone"
    # And releases are frozen with the finding, naming the intruder
    dynamodb, table = stack.client("dynamodb"), stack.outputs["StateTableName"]
    freeze = freeze_state(table, dynamodb=dynamodb)
    assert (freeze.frozen, freeze.principal) == (True, mallory)
    [finding_id] = freeze.finding_ids
    finding = get_finding(table, finding_id, dynamodb=dynamodb)
    assert finding is not None
    assert finding.status == "DONE"
    # And one alert says what happened, by whom, and what is left to do
    [alert] = messages(stack, alerts)
    assert tampering.event_name in alert["Message"]
    assert mallory in alert["Message"]
    assert finding_id in alert["Message"]
    assert tampering.manual in alert["Message"]


def findings(cloud: LocalCloud) -> list[FindingRecord]:
    return list_findings(cloud.outputs["StateTableName"], dynamodb=cloud.client("dynamodb"))


def suspend_versioning(cloud: LocalCloud, principal: str, *, settle: bool = True) -> None:
    cloud.client("s3", principal=principal).put_bucket_versioning(
        Bucket=cloud.outputs["DataBucketName"], VersioningConfiguration={"Status": "Suspended"}
    )
    if settle:
        cloud.run_until_idle()


def remediations(cloud: LocalCloud, event_name: str) -> list[dict[str, Any]]:
    """The recorded calls named ``event_name`` that the responder's role made."""
    role = cloud.physical_ids["ResponderFunctionRole"]
    return [
        event
        for event in cloud.cloudtrail.recent
        if event["detail"]["eventName"] == event_name
        and event["detail"]["userIdentity"].get("sessionContext", {}).get("sessionIssuer", {}).get("userName") == role
    ]


def test_a_duplicate_event_gives_one_finding_one_remediation_and_one_alert(stack: LocalCloud) -> None:
    # Given the responder handled an intruder's call
    alerts = subscribed_queue(stack, stack.outputs["NotificationTopicArn"], "alerts")
    suspend_versioning(stack, intruder(stack, *INTRUDER_ACTIONS))
    [intrusion] = [e for e in stack.cloudtrail.recent if e["detail"].get("errorCode") is None
                   and e["detail"]["eventName"] == "PutBucketVersioning"
                   and e["detail"]["userIdentity"]["type"] == "IAMUser"]  # fmt: skip
    # When CloudTrail's event is delivered twice more
    for _ in range(2):
        stack.cloudtrail.deliver(intrusion)
    stack.run_until_idle()
    # Then there is still one finding, one remediation and one alert
    assert [f.finding_id for f in findings(stack)] == [intrusion["detail"]["eventID"]]
    assert len(remediations(stack, "PutBucketVersioning")) == 1
    assert len(messages(stack, alerts)) == 1


def test_a_refused_call_is_alerted_but_undoes_and_freezes_nothing(stack: LocalCloud) -> None:
    # Given an intruder without any permission
    alerts = subscribed_queue(stack, stack.outputs["NotificationTopicArn"], "alerts")
    mallory = intruder(stack)
    # When it tries to suspend versioning, and is refused
    with pytest.raises(ClientError, match="AccessDenied"):
        suspend_versioning(stack, mallory)
    stack.run_until_idle()
    # Then the attempt is a finding and an alert, but nothing is frozen or changed
    [finding] = findings(stack)
    assert (finding.succeeded, finding.freezes, finding.remediated) == (False, False, [])
    assert not freeze_state(stack.outputs["StateTableName"], dynamodb=stack.client("dynamodb")).frozen
    [alert] = messages(stack, alerts)
    assert "AccessDenied" in alert["Message"]
    assert remediations(stack, "PutBucketVersioning") == []


def test_a_foreign_deployment_to_the_fleet_is_reported_for_a_human(stack: LocalCloud) -> None:
    # Given an intruder that may deploy to the fleet's thing group
    alerts = subscribed_queue(stack, stack.outputs["NotificationTopicArn"], "alerts")
    mallory = intruder(stack, *INTRUDER_ACTIONS)
    thing_group = f"arn:aws:iot:{stack.region}:{stack.account_id}:thinggroup/{stack.parameters['EdgeThingGroup']}"
    recipe = {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": "mallory.Miner",
        "ComponentVersion": "1.0.0",
        "Manifests": [{"Platform": {"os": "linux"}, "Lifecycle": {"run": "mine"}}],
    }
    stack.client("greengrassv2").create_component_version(inlineRecipe=json.dumps(recipe).encode())
    # When it deploys that component to the fleet
    stack.client("greengrassv2", principal=mallory).create_deployment(
        targetArn=thing_group, deploymentName="mallory", components={"mallory.Miner": {"componentVersion": "1.0.0"}}
    )
    stack.run_until_idle()
    # Then releases are frozen and the alert says how to cancel the deployment
    assert freeze_state(stack.outputs["StateTableName"], dynamodb=stack.client("dynamodb")).frozen
    [alert] = messages(stack, alerts)
    assert "aws greengrassv2 cancel-deployment" in alert["Message"]


def unfreeze(cloud: LocalCloud, finding_id: str) -> dict[str, Any]:
    payload = {"finding_id": finding_id, "reason": "undone and keys revoked", "lifted_by": "alice"}
    response = cloud.client("lambda").invoke(
        FunctionName=cloud.outputs["UnfreezeFunctionName"], Payload=json.dumps(payload).encode()
    )
    result: dict[str, Any] = json.loads(response["Payload"].read())
    return result


def rows(count: int, seed: int) -> bytes:
    return csv_text(records(count, seed), load_schema("predictive_maintenance").columns).encode()


def test_while_frozen_uploads_start_no_run_and_unfreezing_lets_the_next_one_start(stack: LocalCloud) -> None:
    # Given releases frozen by an intruder's call
    suspend_versioning(stack, intruder(stack, *INTRUDER_ACTIONS))
    [finding] = findings(stack)
    # When uploads cross MinNewRows (20)
    upload(stack, "while-frozen.csv", rows(25, seed=1))
    stack.run_until_idle()
    # Then they are ingested but no run starts
    assert executions(stack) == []
    # When an operator lifts the freeze, and the next upload arrives
    unfreeze(stack, finding.finding_id)
    freeze = freeze_state(stack.outputs["StateTableName"], dynamodb=stack.client("dynamodb"))
    assert (freeze.frozen, freeze.lifted_by) == (False, "alice")
    upload(stack, "after.csv", rows(5, seed=2))
    stack.run_until_idle()
    # Then one run starts, with every row since the last run
    [execution] = described_executions(stack)
    assert json.loads(execution["input"])["new_rows"] == 30


def test_a_run_in_flight_when_releases_freeze_stops_before_it_registers(stack: LocalCloud) -> None:
    # Given an intruder that suspends versioning while the next training job trains
    mallory = intruder(stack, *INTRUDER_ACTIONS)
    # (its call returns once the responder is done: the run waits on this very job, so nothing to settle)
    stack.training_faults.during_next.append(lambda: suspend_versioning(stack, mallory, settle=False))
    # When enough rows arrive to start a run
    upload(stack, "enough.csv", rows(600, seed=3))
    stack.run_until_idle(timeout=120)
    # Then the run trained, but failed as frozen before registering anything
    assert training_jobs(stack) != []
    [execution] = described_executions(stack)
    assert (execution["status"], execution.get("error")) == ("FAILED", "ReleasesFrozen")
    assert model_packages(stack) == []
