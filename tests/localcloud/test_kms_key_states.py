"""KMS takes a key by ID or ARN and applies the key-state rules to enabling, disabling and deletion."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.adapters.kms_key_states import kms_key_states
from tests.localcloud.small_stack import small_cloud

pytestmark = pytest.mark.localcloud


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    with small_cloud() as deployed:
        yield deployed


def state(cloud: LocalCloud, key: str) -> str:
    found: str = cloud.client("kms").describe_key(KeyId=key)["KeyMetadata"]["KeyState"]
    return found


def code(error: pytest.ExceptionInfo[ClientError]) -> str:
    found: str = error.value.response["Error"]["Code"]
    return found


def test_gap_moto_fails_on_a_key_named_by_its_arn() -> None:
    with small_cloud(without=[kms_key_states]) as cloud:
        key = cloud.client("kms").create_key()["KeyMetadata"]["Arn"]
        with pytest.raises(KeyError):
            cloud.client("kms").disable_key(KeyId=key)


def test_fix_a_key_scheduled_for_deletion_is_restored_by_its_arn(cloud: LocalCloud) -> None:
    kms = cloud.client("kms")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    # Given a key an intruder scheduled for deletion
    scheduled = kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert (scheduled["KeyId"], scheduled["KeyState"], scheduled["PendingWindowInDays"]) == (key, "PendingDeletion", 7)
    # When the deletion is cancelled and the key enabled, by its ARN
    assert kms.cancel_key_deletion(KeyId=key)["KeyId"] == key
    assert state(cloud, key) == "Disabled"
    kms.enable_key(KeyId=key)
    # Then the key is enabled again
    assert state(cloud, key) == "Enabled"


def test_fix_a_key_pending_deletion_can_only_have_its_deletion_cancelled(cloud: LocalCloud) -> None:
    kms = cloud.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    for change in (kms.enable_key, kms.disable_key):
        with pytest.raises(ClientError) as refused:
            change(KeyId=key)
        assert code(refused) == "KMSInvalidStateException"
    with pytest.raises(ClientError) as again:
        kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert code(again) == "KMSInvalidStateException"


def test_fix_cancelling_the_deletion_of_a_key_not_pending_deletion_is_refused(cloud: LocalCloud) -> None:
    kms = cloud.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as refused:
        kms.cancel_key_deletion(KeyId=key)
    assert code(refused) == "KMSInvalidStateException"
    assert "is not pending deletion" in refused.value.response["Error"]["Message"]
