"""In the at-least-once mode, DynamoDB throttles requests and cancels transactions for conflicts."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from conveyor.state.items import key
from localcloud import LocalCloud
from localcloud.adapters.dynamodb_faults import dynamodb_faults
from localcloud.delivery import AtLeastOnce
from tests.conftest import TEMPLATE
from tests.localcloud.conftest import cloud_without

pytestmark = pytest.mark.localcloud

THROTTLED = AtLeastOnce(seed=1, throttle_rate=1, conflict_rate=0)
CONFLICTING = AtLeastOnce(seed=1, throttle_rate=0, conflict_rate=1)


def as_ingest_function(cloud: LocalCloud) -> Any:
    """A DynamoDB client acting as the ingest function's role, which may write the state table."""
    role = cloud.client("iam").get_role(RoleName=cloud.physical_ids["IngestFunctionRole"])["Role"]["Arn"]
    return cloud.client("dynamodb", principal=role)


def item(name: str) -> dict[str, Any]:
    return key("fault-test", name)


def stored(cloud: LocalCloud, name: str) -> bool:
    table = cloud.outputs["StateTableName"]
    return "Item" in cloud.client("dynamodb").get_item(TableName=table, Key=item(name), ConsistentRead=True)


def transact(client: Any, table: str, *names: str) -> None:
    client.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": item(name)}} for name in names])


def test_gap_moto_applies_every_request() -> None:
    with cloud_without(dynamodb_faults, delivery=AtLeastOnce(seed=1, throttle_rate=1, conflict_rate=1)) as cloud:
        table = cloud.outputs["StateTableName"]
        dynamodb = as_ingest_function(cloud)
        dynamodb.put_item(TableName=table, Item=item("put"))
        transact(dynamodb, table, "first", "second")
        assert all(stored(cloud, name) for name in ("put", "first", "second"))


def test_fix_a_throttled_request_changes_nothing() -> None:
    with LocalCloud.from_template(TEMPLATE, delivery=THROTTLED) as cloud:
        table = cloud.outputs["StateTableName"]
        with pytest.raises(ClientError) as refused:
            as_ingest_function(cloud).put_item(TableName=table, Item=item("put"))
        assert refused.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
        assert not stored(cloud, "put")


def test_fix_a_conflicting_transaction_is_cancelled_and_changes_nothing() -> None:
    with LocalCloud.from_template(TEMPLATE, delivery=CONFLICTING) as cloud:
        table = cloud.outputs["StateTableName"]
        with pytest.raises(ClientError) as cancelled:
            transact(as_ingest_function(cloud), table, "first", "second")
        error = cancelled.value.response
        assert error["Error"]["Code"] == "TransactionCanceledException"
        assert sorted(reason["Code"] for reason in error["CancellationReasons"]) == ["None", "TransactionConflict"]
        assert not stored(cloud, "first")
        assert not stored(cloud, "second")


def test_the_administrator_is_never_refused() -> None:
    with LocalCloud.from_template(TEMPLATE, delivery=AtLeastOnce(seed=1, throttle_rate=1, conflict_rate=1)) as cloud:
        table = cloud.outputs["StateTableName"]
        transact(cloud.client("dynamodb"), table, "first")
        assert stored(cloud, "first")
