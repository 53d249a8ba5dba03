"""template.yaml deployed into the local cloud: every resource exists with its key properties."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from conveyor.state import PARTITION_KEY, SORT_KEY
from localcloud import LocalCloud
from localcloud.template import load_sam_template
from tests.conftest import TEMPLATE
from tests.helpers import queue

pytestmark = pytest.mark.localcloud


class TestTheDefaultStack:
    """The stack of template.yaml with its default parameters, deployed once for these tests.

    They read what was deployed; the one that writes adds a rule, a queue and an object under
    incoming/, which none of the others reads.
    """

    @pytest.fixture(scope="class")
    @classmethod
    def cloud(cls) -> Iterator[LocalCloud]:
        with LocalCloud.from_template(TEMPLATE) as deployed:
            yield deployed

    def test_every_resource_of_the_template_is_created(self, cloud: LocalCloud) -> None:
        # Given the translated template's resources, less the optional ones (off by default)
        optional = {"HasNotificationEmail", "HasRetrainSchedule"}
        expected = {
            logical_id
            for logical_id, resource in cloud.template.body["Resources"].items()
            if resource.get("Condition") not in optional
        }
        # Then the stack lists each of them as created
        assert expected <= set(cloud.physical_ids)

    @pytest.mark.parametrize("bucket_output", ["DataBucketName", "ArtifactBucketName"])
    def test_data_buckets_are_versioned_private_tls_only_and_encrypted_with_the_stack_key(
        self, cloud: LocalCloud, bucket_output: str
    ) -> None:
        s3 = cloud.client("s3")
        bucket = cloud.outputs[bucket_output]
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": cloud.outputs["KeyArn"],
        }
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values())
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        assert {
            "Effect": "Deny",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }.items() <= policy["Statement"][0].items()
        logging = s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"]
        assert logging["TargetBucket"] == cloud.outputs["LogBucketName"]

    def test_the_data_bucket_sends_object_created_events_to_eventbridge(self, cloud: LocalCloud) -> None:
        # Given a rule on the default bus that forwards the data bucket's "Object Created" events to a queue
        bucket = cloud.outputs["DataBucketName"]
        sqs, events = cloud.client("sqs"), cloud.client("events")
        queue_url, queue_arn = queue(cloud, "object-created")
        events.put_rule(
            Name="object-created",
            EventPattern=json.dumps(
                {
                    "source": ["aws.s3"],
                    "detail-type": ["Object Created"],
                    "detail": {"bucket": {"name": [bucket]}},
                }
            ),
        )
        events.put_targets(Rule="object-created", Targets=[{"Id": "queue", "Arn": queue_arn}])
        # When a file is uploaded
        cloud.client("s3").put_object(Bucket=bucket, Key="incoming/sample.csv", Body=b"label,x\n1,2\n")
        # Then the event arrives, naming the object
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
        details = [json.loads(m["Body"])["detail"] for m in messages]
        assert "incoming/sample.csv" in [d["object"]["key"] for d in details]

    def test_the_key_rotates(self, cloud: LocalCloud) -> None:
        status = cloud.client("kms").get_key_rotation_status(KeyId=cloud.outputs["KeyArn"])
        assert status["KeyRotationEnabled"] is True

    def test_the_state_table_is_keyed_by_pk_and_sk_on_demand_with_kms(self, cloud: LocalCloud) -> None:
        dynamodb = cloud.client("dynamodb")
        table = dynamodb.describe_table(TableName=cloud.outputs["StateTableName"])["Table"]
        assert [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]] == [
            (PARTITION_KEY, "HASH"),
            (SORT_KEY, "RANGE"),
        ]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert table["SSEDescription"]["SSEType"] == "KMS"
        backups = dynamodb.describe_continuous_backups(TableName=cloud.outputs["StateTableName"])
        pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"

    def test_the_notification_topic_is_encrypted_and_tls_only(self, cloud: LocalCloud) -> None:
        attributes = cloud.client("sns").get_topic_attributes(TopicArn=cloud.outputs["NotificationTopicArn"])[
            "Attributes"
        ]
        assert attributes["KmsMasterKeyId"] == cloud.outputs["KeyArn"]
        assert "aws:SecureTransport" in attributes["Policy"]

    def test_functions_get_the_environment_the_template_gives_them(self, cloud: LocalCloud) -> None:
        configuration = cloud.client("lambda").get_function_configuration(
            FunctionName=cloud.outputs["HealthFunctionName"]
        )
        variables = configuration["Environment"]["Variables"]
        assert variables["STATE_TABLE_NAME"] == cloud.outputs["StateTableName"]
        assert variables["CONVEYOR_VERSION"] == cloud.outputs["Version"]
        assert variables["POWERTOOLS_SERVICE_NAME"] == "health"
        assert configuration["Layers"][0]["Arn"] == cloud.outputs["SharedLayerArn"]

    def test_the_local_cloud_deploys_the_repository_template(self, cloud: LocalCloud) -> None:
        # The translated template comes from template.yaml itself, not from a copy.
        sam = load_sam_template(TEMPLATE)
        assert set(sam["Outputs"]) == set(cloud.outputs)


def test_an_email_parameter_subscribes_that_address_to_the_topic() -> None:
    # Given a stack deployed with NotificationEmail set
    with LocalCloud.from_template(TEMPLATE, parameters={"NotificationEmail": "ops@example.com"}) as cloud:
        # Then the topic has that e-mail subscription
        subscriptions = cloud.client("sns").list_subscriptions_by_topic(TopicArn=cloud.outputs["NotificationTopicArn"])[
            "Subscriptions"
        ]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", "ops@example.com")]
