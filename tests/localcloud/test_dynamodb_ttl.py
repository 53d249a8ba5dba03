"""State-table items disappear once their TTL has passed in stack time, as DynamoDB's TTL does."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto.dynamodb.models.dynamo_type import DynamoType, Item

from conveyor.state import EXPIRATION
from localcloud import LocalCloud
from localcloud.adapters.dynamodb_ttl import dynamodb_ttl, expired
from tests.localcloud.conftest import cloud_without

pytestmark = pytest.mark.localcloud

A_DAY = 24 * 60  # minutes; the health function's items live for a day


def check_health(cloud: LocalCloud) -> None:
    response = cloud.client("lambda").invoke(FunctionName=cloud.outputs["HealthFunctionName"])
    assert json.loads(response["Payload"].read())["status"] == "ok"


def health_items(cloud: LocalCloud) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = cloud.client("dynamodb").scan(TableName=cloud.outputs["StateTableName"])["Items"]
    return [item for item in items if EXPIRATION in item]  # only health checks expire


def test_gap_moto_keeps_expired_items() -> None:
    with cloud_without(dynamodb_ttl) as cloud:
        check_health(cloud)
        cloud.advance(minutes=A_DAY + 1)
        assert len(health_items(cloud)) == 1


def test_fix_an_item_is_gone_once_its_ttl_has_passed(cloud: LocalCloud) -> None:
    # Given a health check wrote its item, which lives for a day
    check_health(cloud)
    [item] = health_items(cloud)
    # When a day and a minute pass
    cloud.advance(minutes=A_DAY + 1)
    # Then it has expired, and is gone
    assert int(item["expiration"]["N"]) < cloud.clock.now().timestamp()
    assert health_items(cloud) == []


def test_fix_an_item_stays_until_its_ttl(cloud: LocalCloud) -> None:
    check_health(cloud)
    cloud.advance(minutes=A_DAY - 1)
    assert len(health_items(cloud)) == 1


NOW = datetime(2026, 6, 1, tzinfo=UTC)


def item(expiration: dict[str, Any] | None) -> Item:
    attrs = {"id": {"S": "p"}} | ({"expiration": expiration} if expiration else {})
    return Item(hash_key=DynamoType({"S": "p"}), range_key=None, attrs=attrs)


@pytest.mark.parametrize(
    ("expiration", "due"),
    [
        ({"N": str(int((NOW - timedelta(seconds=1)).timestamp()))}, True),
        ({"N": str(int((NOW + timedelta(seconds=1)).timestamp()))}, False),
        ({"N": str(int((NOW - timedelta(days=6 * 365)).timestamp()))}, False),  # AWS ignores it
        ({"S": str(int((NOW - timedelta(seconds=1)).timestamp()))}, False),  # not a Number
        (None, False),
    ],
)
def test_only_numbers_of_epoch_seconds_of_the_last_five_years_expire(
    expiration: dict[str, Any] | None, due: bool
) -> None:
    assert expired(item(expiration), "expiration", NOW) is due
