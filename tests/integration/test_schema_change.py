"""A schema change through the local cloud: the dataset follows it, and no run sees mixed layouts.

A champion is trained on files in the columns of predictive_maintenance. Then the stack is
redeployed with predictive_maintenance_v2 (it gains humidity_pct and loses vibration_mm_s), as a
stack update with another ``FeatureSchema`` does: every function that reads the schema gets the
new name, and its next invocation is a cold start. New files arrive in the new columns.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator

import pytest
import xgboost as xgb

from conveyor.schema import load_schema
from conveyor.state.ledger import Ledger
from conveyor_tools.stack import evaluation_report, executions, model_packages, read_json, read_object, upload
from conveyor_tools.synthetic import csv_text, records
from localcloud import LocalCloud
from tests.conftest import TEMPLATE

pytestmark = pytest.mark.localcloud

OLD = load_schema("predictive_maintenance")
NEW = load_schema("predictive_maintenance_v2")
PARAMETERS = {"NumRound": "40", "MinNewRows": "2500"}


@pytest.fixture(scope="module")
def changed() -> Iterator[LocalCloud]:
    """The stack after a run under the old schema, the change, and a run under the new one."""
    with LocalCloud.from_template(TEMPLATE, parameters=PARAMETERS) as cloud:
        upload(cloud, "old.csv", csv_text(records(3000, seed=11), OLD.columns).encode())
        cloud.run_until_idle(timeout=180)
        switch_schema(cloud, NEW.name)
        upload(cloud, "new.csv", csv_text(records(3000, seed=12, humidity=True), NEW.columns).encode())
        cloud.run_until_idle(timeout=180)
        yield cloud


def switch_schema(cloud: LocalCloud, name: str) -> None:
    """Give every function that reads the feature schema the schema ``name``, as a stack update would."""
    functions = cloud.client("lambda")
    for page in functions.get_paginator("list_functions").paginate():
        for function in page["Functions"]:
            variables = {
                name: str(value) for name, value in function.get("Environment", {}).get("Variables", {}).items()
            }
            if "FEATURE_SCHEMA" in variables:
                functions.update_function_configuration(
                    FunctionName=function["FunctionName"],
                    Environment={"Variables": variables | {"FEATURE_SCHEMA": name}},
                )


def manifest_rows(cloud: LocalCloud, run_id: str, channel: str) -> list[list[str]]:
    """Every row a training job of ``run_id`` reads in ``channel``, as its cells."""
    _, *keys = read_json(cloud, f"datasets/channels/{run_id}/{channel}.manifest")
    return [line.split(",") for key in keys for line in read_object(cloud, key).decode().splitlines()]


def test_both_runs_succeed_one_per_schema(changed: LocalCloud) -> None:
    assert sorted((e["name"], e["status"]) for e in executions(changed)) == [
        ("run-000001", "SUCCEEDED"),
        ("run-000002", "SUCCEEDED"),
    ]


def test_the_run_after_the_change_trains_on_every_part_in_the_new_columns(changed: LocalCloud) -> None:
    used = read_json(changed, "datasets/channels/run-000002/parts.json")
    assert sum(part["rows"] for part in used) == 6000
    assert {part["layout"]["version"] for part in used} == {NEW.version}
    for channel in ("train", "validation", "test"):
        rows = manifest_rows(changed, "run-000002", channel)
        assert {len(row) for row in rows} == {len(NEW.columns)}
        # The old file's rows have no humidity: left empty, which XGBoost reads as missing
        assert 0 < sum(row[-1] == "" for row in rows) < len(rows)
    train = manifest_rows(changed, "run-000002", "train")
    validation = manifest_rows(changed, "run-000002", "validation")
    test = manifest_rows(changed, "run-000002", "test")
    assert len(train) + len(validation) + len(test) == 6000


def test_the_run_before_the_change_trained_on_the_old_columns_alone(changed: LocalCloud) -> None:
    rows = manifest_rows(changed, "run-000001", "train")
    assert {len(row) for row in rows} == {len(OLD.columns)}
    assert all(row[-1] != "" for row in rows)


def test_the_ledger_holds_the_old_part_migrated_once(changed: LocalCloud) -> None:
    # Both files' parts were small: the run compacted them into one, laying the old one out again
    (part,) = Ledger(changed.outputs["StateTableName"], dynamodb=changed.client("dynamodb")).parts()
    assert part.rows == 6000
    assert len(part.sources) == 2
    assert part.layout == NEW.layout


def test_the_new_model_uses_the_new_feature(changed: LocalCloud) -> None:
    job = changed.client("sagemaker").describe_training_job(TrainingJobName="conveyor-dev-run-000002")
    booster = model(changed, job["ModelArtifacts"]["S3ModelArtifacts"])
    assert booster.num_features() == len(NEW.features)
    humidity = f"f{NEW.layout.features.index('humidity_pct')}"
    assert booster.get_score(importance_type="gain").get(humidity, 0.0) > 0.0


def model(cloud: LocalCloud, uri: str) -> xgb.Booster:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    tarball = cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:
        member = archive.extractfile("xgboost-model")
        assert member is not None
        raw = member.read()
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    return booster


def test_the_excluded_report_is_empty_when_the_label_is_unchanged(changed: LocalCloud) -> None:
    assert json.loads(read_object(changed, "datasets/channels/run-000002/excluded.json")) == []


def test_the_gate_scores_the_champion_on_the_new_rows_in_its_own_columns_and_asks_a_person(changed: LocalCloud) -> None:
    first, second = model_packages(changed, newest_first=False)
    report = evaluation_report(changed, second)
    champion = report["champion"]
    assert champion["package_arn"] == first["ModelPackageArn"]
    # The champion was trained on the old columns, and scored on the new run's test rows by name
    # (vibration_mm_s, which the new rows lack, missing): a fair value, not its stored one
    assert champion["layout"]["features"] == OLD.layout.features
    assert champion["value"] is not None
    assert champion["value"] != champion["stored_value"]
    assert report["test"]["rows_scored"] == report["test"]["rows"] > 0
    assert report["layout"]["version"] == NEW.version
    assert second["CustomerMetadataProperties"]["schema_version"] == NEW.version
    assert first["CustomerMetadataProperties"]["schema_version"] == OLD.version
    # A model on other features waits for a person, though ApprovalMode is automatic, and says why
    assert report["decision"] == "Approved"
    assert report["objective"]["value"] > champion["value"]  # humidity tells failures apart
    assert second["ModelApprovalStatus"] == "PendingManualApproval"
    assert any("added humidity_pct; removed vibration_mm_s" in note for note in report["notes"])
