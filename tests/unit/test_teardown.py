"""``conveyor teardown``'s pure parts: the deletion policies it reads, and the plan it prints before asking."""

from __future__ import annotations

from conveyor_tools.teardown import BucketPlan, Contents, Plan, StackResource, deletion_policies, describe


def resource(logical_id: str, type_: str, physical_id: str, policy: str) -> StackResource:
    return StackResource(logical_id, type_, physical_id, policy)


def test_a_resource_without_a_deletion_policy_is_deleted_as_cloudformation_does_by_default() -> None:
    # Given a processed template with a retained bucket, a log group deleted explicitly, and a queue with no policy
    template = {
        "Resources": {
            "DataBucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain"},
            "Logs": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Delete"},
            "Queue": {"Type": "AWS::SQS::Queue"},
        }
    }
    # Then the queue's policy is Delete
    assert deletion_policies(template) == {"DataBucket": "Retain", "Logs": "Delete", "Queue": "Delete"}


def test_retain_except_on_create_is_retained_and_snapshot_is_not() -> None:
    # (Snapshot deletes the resource and keeps a snapshot of it)
    assert resource("A", "AWS::S3::Bucket", "a", "RetainExceptOnCreate").retained
    assert not resource("B", "AWS::RDS::DBInstance", "b", "Snapshot").retained


def test_the_plan_says_what_each_bucket_holds_what_it_keeps_and_what_outlives_the_stack() -> None:
    # Given a stack with a retained bucket, a deletable one that holds versions, one deleted by hand, and a key
    data = resource("DataBucket", "AWS::S3::Bucket", "data-1", "Retain")
    key = resource("Key", "AWS::KMS::Key", "k-1", "Retain")
    plan = Plan(
        stack_name="conveyor-dev",
        buckets=(
            BucketPlan(data, Contents(1, 0, 0)),
            BucketPlan(resource("ArtifactBucket", "AWS::S3::Bucket", "art-1", "Delete"), Contents(1200, 3, 1)),
            BucketPlan(resource("LogBucket", "AWS::S3::Bucket", "log-1", "Delete"), None),
        ),
        retained=(key, data),
        endpoint="conveyor-dev (InService)",
    )
    # Then only the deletable bucket that holds anything is to be emptied
    assert [bucket.resource.logical_id for bucket in plan.to_empty] == ["ArtifactBucket"]
    # And the plan reads
    assert describe(plan) == [
        "Stack conveyor-dev",
        "",
        "Buckets",
        "  DataBucket      data-1: kept, as it is (DeletionPolicy Retain): "
        "1 object version, 0 delete markers, 0 incomplete uploads",
        "  ArtifactBucket  art-1: to empty (DeletionPolicy Delete): "
        "1,200 object versions, 3 delete markers, 1 incomplete upload",
        "  LogBucket       log-1: gone already (DeletionPolicy Delete)",
        "",
        "Kept after `sam delete` (DeletionPolicy Retain); note their names, the stack's outputs go with it",
        "  Key             AWS::KMS::Key k-1: stays enabled, not scheduled for deletion: "
        "the kept data is encrypted with it",
        "  DataBucket      AWS::S3::Bucket data-1",
        "",
        "Outside the stack: `sam delete` leaves it running, and billed",
        "  SageMaker endpoint conveyor-dev (InService), created by the canary release",
    ]
