"""A DynamoDB transaction costs the same whatever the table holds, and a cancelled one changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models.table import Table

from localcloud.adapters.dynamodb_transactions import dynamodb_transactions

pytestmark = pytest.mark.localcloud


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A table of 200 items, in moto; copying the whole table fails the test."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName="state",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for number in range(200):
            dynamodb.put_item(TableName="state", Item={"pk": {"S": "part"}, "sk": {"S": f"{number:03d}"}})
        dynamodb.put_item(TableName="state", Item={"pk": {"S": "dataset"}, "sk": {"S": "counter"}, "rows": {"N": "5"}})

        def no_table_copies(self: Table, memo: Any) -> Table:
            raise AssertionError("the whole table was copied")

        monkeypatch.setattr(Table, "__deepcopy__", no_table_copies, raising=False)
        yield dynamodb


def record(dynamodb: Any, part: str, *, only_if_new: str) -> None:
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "state", "Item": {"pk": {"S": "part"}, "sk": {"S": part}}}},
            {
                "Update": {
                    "TableName": "state",
                    "Key": {"pk": {"S": "dataset"}, "sk": {"S": "counter"}},
                    "UpdateExpression": "ADD #rows :one",
                    "ExpressionAttributeNames": {"#rows": "rows"},
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
            {
                "Put": {
                    "TableName": "state",
                    "Item": {"pk": {"S": "object"}, "sk": {"S": only_if_new}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
    )


def rows(dynamodb: Any) -> str:
    counter = dynamodb.get_item(TableName="state", Key={"pk": {"S": "dataset"}, "sk": {"S": "counter"}})
    return str(counter["Item"]["rows"]["N"])


def test_gap_moto_copies_the_whole_table_for_each_transaction(table: Any) -> None:
    with pytest.raises(AssertionError, match="the whole table was copied"):
        record(table, "new", only_if_new="a")


def test_fix_a_transaction_applies_without_copying_the_table(table: Any) -> None:
    with dynamodb_transactions(None):  # type: ignore[arg-type]
        record(table, "new", only_if_new="a")
    assert rows(table) == "6"
    assert "Item" in table.get_item(TableName="state", Key={"pk": {"S": "part"}, "sk": {"S": "new"}})


def test_fix_a_cancelled_transaction_puts_back_exactly_the_items_it_named(table: Any) -> None:
    with dynamodb_transactions(None):  # type: ignore[arg-type]
        record(table, "first", only_if_new="a")
        # Its last item's condition fails after the first two were applied: all three are undone
        with pytest.raises(ClientError, match="TransactionCanceledException"):
            record(table, "second", only_if_new="a")
    assert rows(table) == "6"
    assert "Item" not in table.get_item(TableName="state", Key={"pk": {"S": "part"}, "sk": {"S": "second"}})
    assert "Item" in table.get_item(TableName="state", Key={"pk": {"S": "part"}, "sk": {"S": "first"}})
    assert table.scan(TableName="state", Select="COUNT")["Count"] == 203
