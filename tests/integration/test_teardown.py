"""``conveyor teardown`` through the local cloud, then the stack's deletion as ``sam delete`` asks for it.

Two templates: template.yaml as it is, whose three buckets are all DeletionPolicy Retain, and the
same with the artifact bucket's policy changed to Delete, as a fork that wants its artifacts to go
with the stack would deploy it. Moto's DeleteStack, like CloudFormation's, leaves a Retain resource
alone; where CloudFormation fails on a bucket that still holds anything, moto leaves that bucket
behind and completes, so a bucket gone after DeleteStack is one teardown emptied.

A kept bucket is compared by what it held before, not by its size: the local cloud delivers
server access logs, so the log bucket grows with every look the test takes at the others.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from conveyor_tools.teardown import contents
from localcloud import LocalCloud
from tests.conftest import TEMPLATE
from tests.helpers import conveyor

pytestmark = pytest.mark.localcloud

BUCKETS = ("LogBucket", "DataBucket", "ArtifactBucket")
RETAINED = ["Key", "LogBucket", "DataBucket", "ArtifactBucket", "StateTable"]


def bucket(cloud: LocalCloud, logical_id: str) -> str:
    return cloud.physical_ids[logical_id]


Entries = frozenset[tuple[str, str]]


def held(cloud: LocalCloud) -> dict[str, Entries | None]:
    """Each bucket's object versions, delete markers and incomplete uploads as (key, id), by logical id;
    None where the bucket is gone."""
    s3 = cloud.client("s3")
    found: dict[str, Entries | None] = {}
    for logical_id in BUCKETS:
        name = bucket(cloud, logical_id)
        if contents(s3, name) is None:
            found[logical_id] = None
            continue
        entries: set[tuple[str, str]] = set()
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
            entries.update((v["Key"], v["VersionId"]) for v in page.get("Versions", []) + page.get("DeleteMarkers", []))
        for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=name):
            entries.update((u["Key"], u["UploadId"]) for u in page.get("Uploads", []))
        found[logical_id] = frozenset(entries)
    return found


def kept_whole(before: dict[str, Entries | None], after: dict[str, Entries | None], *logical_ids: str) -> bool:
    """Whether each bucket still holds all it held before (the log bucket may have gained access logs)."""
    return all(after[i] is not None and (before[i] or frozenset()) <= (after[i] or frozenset()) for i in logical_ids)


def fill(cloud: LocalCloud, logical_id: str, versions: int = 3) -> None:
    """Give a bucket what makes a versioned bucket hard to delete: several versions of a key, a deleted key
    (its version and its delete marker), and an incomplete multipart upload."""
    s3, name = cloud.client("s3"), bucket(cloud, logical_id)
    for version in range(versions):
        s3.put_object(Bucket=name, Key="models/model.tar.gz", Body=f"version {version}".encode())
    s3.put_object(Bucket=name, Key="reports/old.json", Body=b"{}")
    s3.delete_object(Bucket=name, Key="reports/old.json")
    s3.create_multipart_upload(Bucket=name, Key="uploads/big.csv")


@contextmanager
def deployed(*, deletable: str | None = None) -> Iterator[LocalCloud]:
    """The stack of template.yaml; with ``deletable``, that bucket's DeletionPolicy changed to Delete."""
    cloud = LocalCloud.from_template(TEMPLATE)
    if deletable:
        cloud.template.body["Resources"][deletable]["DeletionPolicy"] = "Delete"
    with cloud:
        for logical_id in BUCKETS:
            fill(cloud, logical_id)
        yield cloud


def section(out: str, title: str) -> list[str]:
    """The lines of the printed section whose title starts with ``title``, up to the blank line ending it."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title)) + 1
    return lines[start : lines.index("", start)] if "" in lines[start:] else lines[start:]


def delete_stack(cloud: LocalCloud) -> str:
    """Delete the stack as ``sam delete`` does; its final status."""
    cloudformation = cloud.client("cloudformation")
    stack_id = cloudformation.describe_stacks(StackName=cloud.stack_name)["Stacks"][0]["StackId"]
    cloudformation.delete_stack(StackName=cloud.stack_name)
    status: str = cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
    return status


def test_the_stack_as_templated_keeps_every_bucket_whole_and_its_deletion_leaves_what_the_plan_named() -> None:
    with deployed() as stack:
        # Given the stack's buckets hold versions, delete markers and an incomplete upload each
        before = held(stack)
        # When the operator tears it down
        printed = conveyor(stack, "teardown", "--yes")
        # Then every bucket is kept as it is, by its DeletionPolicy, and nothing needs emptying
        assert (printed.status, printed.err) == (0, "")
        buckets = section(printed.out, "Buckets")
        assert [line.split()[:3] for line in buckets] == [
            [logical_id, f"{bucket(stack, logical_id)}:", "kept,"] for logical_id in BUCKETS
        ]
        assert all("kept, as it is (DeletionPolicy Retain): " in line for line in buckets)
        assert kept_whole(before, held(stack), *BUCKETS)
        assert printed.out.splitlines()[-1] == f"Nothing to empty. Next: sam delete --stack-name {stack.stack_name}"
        # And it names each resource that will survive, by logical and physical id
        kept = section(printed.out, "Kept after `sam delete`")
        assert [line.split()[0] for line in kept] == RETAINED
        assert [line.split()[2].rstrip(":") for line in kept] == [stack.physical_ids[r] for r in RETAINED]
        # When the stack is deleted, it completes; what the plan named is still there, with what it held
        assert delete_stack(stack) == "DELETE_COMPLETE"
        assert kept_whole(before, held(stack), *BUCKETS)
        assert stack.client("dynamodb").describe_table(TableName=stack.physical_ids["StateTable"])["Table"]
        key = stack.client("kms").describe_key(KeyId=stack.physical_ids["Key"])["KeyMetadata"]
        assert key["KeyState"] == "Enabled"
        # And what had no Retain policy is gone (a log group, say)
        assert stack.client("logs").describe_log_groups()["logGroups"] == []


class TestConfirmation:
    """A stack whose artifact bucket is DeletionPolicy Delete: teardown empties it only once confirmed."""

    @pytest.fixture(scope="class")
    @classmethod
    def stack(cls) -> Iterator[LocalCloud]:
        with deployed(deletable="ArtifactBucket") as cloud:
            yield cloud

    @pytest.fixture
    def terminal(self, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        """Standard input as a terminal; append what the operator types."""
        typed: list[str] = []
        monkeypatch.setattr("sys.stdin", io.StringIO())
        monkeypatch.setattr("sys.stdin.isatty", lambda: True)
        monkeypatch.setattr("builtins.input", lambda prompt: typed.pop(0))
        return typed

    def test_without_yes_and_without_a_terminal_it_refuses_and_empties_nothing(
        self, stack: LocalCloud, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Given a bucket to empty, and no terminal to confirm on (a script, a pipeline)
        fill(stack, "ArtifactBucket")
        before = held(stack)
        monkeypatch.setattr("sys.stdin", io.StringIO())
        # When teardown runs without --yes
        printed = conveyor(stack, "teardown")
        # Then it prints the plan and refuses, saying how to go on; every bucket holds what it held
        assert printed.status == 1
        assert f"  ArtifactBucket  {bucket(stack, 'ArtifactBucket')}: to empty (DeletionPolicy Delete): " in printed.out
        assert printed.err == (
            "conveyor teardown: no terminal to confirm on: run it in one, or pass --yes once you have read the plan; "
            "nothing was emptied\n"
        )
        assert kept_whole(before, held(stack), *BUCKETS)

    def test_a_name_other_than_the_stack_s_empties_nothing(self, stack: LocalCloud, terminal: list[str]) -> None:
        # Given a bucket to empty
        fill(stack, "ArtifactBucket")
        before = held(stack)
        # When the operator types another stack's name at the prompt
        terminal.append("conveyor-prod")
        printed = conveyor(stack, "teardown")
        # Then nothing is emptied
        assert (printed.status, printed.err) == (
            1,
            "conveyor teardown: 'conveyor-prod' is not the stack's name; nothing was emptied\n",
        )
        assert kept_whole(before, held(stack), *BUCKETS)

    def test_the_stack_s_name_empties_the_deletable_bucket_and_keeps_the_retained_ones(
        self, stack: LocalCloud, terminal: list[str]
    ) -> None:
        # Given the artifact bucket (Delete) and the others (Retain) hold versions, markers and uploads
        fill(stack, "ArtifactBucket")
        before = held(stack)
        # When the operator types the stack's name
        terminal.append(stack.stack_name)
        printed = conveyor(stack, "teardown")
        # Then the artifact bucket is empty: every version, delete marker and upload is gone
        assert printed.status == 0
        after = held(stack)
        assert after["ArtifactBucket"] == frozenset()
        assert f"Emptied ArtifactBucket {bucket(stack, 'ArtifactBucket')}: " in printed.out
        # And the retained buckets hold what they held
        assert kept_whole(before, after, "LogBucket", "DataBucket")
        assert printed.out.splitlines()[-1] == f"Next: sam delete --stack-name {stack.stack_name}"


def test_with_yes_a_bucket_of_more_versions_than_one_batch_empties_and_the_stack_then_deletes_it() -> None:
    with deployed(deletable="ArtifactBucket") as stack:
        # Given the deletable bucket holds more versions than one DeleteObjects call takes
        fill(stack, "ArtifactBucket", versions=1001)
        before = held(stack)
        # When a script tears the stack down
        printed = conveyor(stack, "teardown", "--yes")
        # Then it empties the bucket without asking
        assert (printed.status, printed.err) == (0, "")
        # (two fills: 3 + 1,001 versions of the model, the deleted report twice with its marker, two uploads)
        assert printed.out.splitlines()[-2] == (
            f"Emptied ArtifactBucket {bucket(stack, 'ArtifactBucket')}: "
            "1,006 object versions, 2 delete markers, 2 incomplete uploads"
        )
        assert held(stack)["ArtifactBucket"] == frozenset()
        # And when the stack is deleted, the emptied bucket goes with it and the retained ones stay whole
        assert delete_stack(stack) == "DELETE_COMPLETE"
        after = held(stack)
        assert after["ArtifactBucket"] is None
        assert kept_whole(before, after, "LogBucket", "DataBucket")
