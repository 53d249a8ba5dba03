"""The health check writes one item and reports the deployed version."""

from __future__ import annotations

from datetime import UTC, datetime

from botocore.stub import Stubber
from health import HealthSettings, check_health

from conveyor import aws
from conveyor.state.items import item

SETTINGS = HealthSettings(project_name="conveyor", stage="dev", conveyor_version="0.1.0", state_table_name="StateTable")
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_health_check_writes_one_expiring_item_and_reports_the_version() -> None:
    # Given a state table that expects exactly one health item
    dynamodb = aws.client("dynamodb")
    with Stubber(dynamodb) as stub:
        stub.add_response(
            "put_item",
            {},
            {
                "TableName": "StateTable",
                "Item": item(
                    "health#dev",
                    "2026-01-02T03:04:05+00:00#request-1",
                    expiration=int(NOW.timestamp()) + 86_400,
                    version="0.1.0",
                    checked_at="2026-01-02T03:04:05Z",
                ),
            },
        )
        # When the health check runs
        report = check_health(SETTINGS, request_id="request-1", now=NOW)
        # Then the item was written and the report names the version
        stub.assert_no_pending_responses()
    assert report.status == "ok"
    assert report.version == "0.1.0"
    assert report.state_table_name == "StateTable"
