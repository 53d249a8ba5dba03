"""Security Hub's GetFindings applies its string filters, so a finding can be read back by its id."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.adapters.securityhub_filters import securityhub_filters
from tests.localcloud.small_stack import small_cloud

pytestmark = pytest.mark.localcloud


def finding(
    cloud: LocalCloud, finding_id: str, *, generator: str = "conveyor", state: str = "ACTIVE"
) -> dict[str, Any]:
    return {
        "SchemaVersion": "2018-10-08",
        "Id": finding_id,
        "ProductArn": f"arn:aws:securityhub:{cloud.region}:{cloud.account_id}:product/{cloud.account_id}/default",
        "GeneratorId": generator,
        "AwsAccountId": cloud.account_id,
        "Types": ["Effects/Data Exposure"],
        "CreatedAt": "2026-01-01T00:00:00Z",
        "UpdatedAt": "2026-01-01T00:00:00Z",
        "Severity": {"Label": "HIGH"},
        "Title": "Public access block removed",
        "Description": "mallory removed the data bucket's public access block",
        "Resources": [{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::data"}],
        "RecordState": state,
    }


def imported(cloud: LocalCloud) -> Any:
    hub = cloud.client("securityhub")
    findings = [
        finding(cloud, "conveyor/1"),
        finding(cloud, "conveyor/2"),
        finding(cloud, "other/1", generator="other"),
    ]
    assert hub.batch_import_findings(Findings=findings)["SuccessCount"] == 3
    return hub


def ids(result: dict[str, Any]) -> list[str]:
    return sorted(f["Id"] for f in result["Findings"])


def test_gap_moto_ignores_the_filters() -> None:
    with small_cloud(without=[securityhub_filters]) as cloud:
        hub = imported(cloud)
        assert len(hub.get_findings(Filters={"Id": [{"Value": "conveyor/1", "Comparison": "EQUALS"}]})["Findings"]) == 3


def test_fix_findings_are_filtered_by_id_prefix_and_negation() -> None:
    with small_cloud() as cloud:
        hub = imported(cloud)
        assert ids(hub.get_findings(Filters={"Id": [{"Value": "conveyor/1", "Comparison": "EQUALS"}]})) == [
            "conveyor/1"
        ]
        by_prefix = {"Id": [{"Value": "conveyor/", "Comparison": "PREFIX"}]}
        assert ids(hub.get_findings(Filters=by_prefix)) == ["conveyor/1", "conveyor/2"]
        not_other = {
            "GeneratorId": [{"Value": "other", "Comparison": "NOT_EQUALS"}],
            "ResourceId": [{"Value": "arn:aws:s3:::data", "Comparison": "EQUALS"}],
        }
        assert ids(hub.get_findings(Filters=not_other)) == ["conveyor/1", "conveyor/2"]


def test_fix_a_reimport_updates_the_finding_it_names() -> None:
    with small_cloud() as cloud:
        hub = imported(cloud)
        hub.batch_import_findings(Findings=[finding(cloud, "conveyor/1", state="ARCHIVED")])
        archived = hub.get_findings(Filters={"RecordState": [{"Value": "ARCHIVED", "Comparison": "EQUALS"}]})
        assert ids(archived) == ["conveyor/1"]
        assert len(hub.get_findings()["Findings"]) == 3


def test_fix_a_filter_the_local_cloud_cannot_apply_is_refused() -> None:
    with small_cloud() as cloud:
        hub = imported(cloud)
        with pytest.raises(ClientError) as refused:
            hub.get_findings(Filters={"CreatedAt": [{"DateRange": {"Value": 1, "Unit": "DAYS"}}]})
        assert refused.value.response["Error"]["Code"] == "InvalidInputException"
