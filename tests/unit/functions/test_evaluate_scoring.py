"""The fair gate: challenger and champion scored on the same test rows, each on its own columns (moto, no network)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import numpy as np
import pytest
import xgboost as xgb
from evaluation import EvaluateSettings, EvaluationInput, evaluate
from moto import mock_aws
from scoring import ChannelRows, load_model, read_rows, score

from conveyor import aws
from conveyor.schema import LabelSpec, Layout, load_schema
from conveyor.state.champion import ChampionPointer, set_champion
from conveyor_tools.synthetic import csv_text, packaged_model, records
from tests.helpers import load_event
from tests.unit.conftest import create_state_table

LAYOUT = load_schema("predictive_maintenance").layout
DATA, ARTIFACTS, GROUP = "data", "artifacts", "models"
SETTINGS = EvaluateSettings(
    project_name="conveyor",
    stage="dev",
    conveyor_version="0.1.0",
    state_table_name="state",
    artifact_bucket_name=ARTIFACTS,
    model_package_group_name=GROUP,
    objective_metric="validation:auc",
    objective_direction="Maximize",
    metric_floor=0.6,
    regression_tolerance=0.01,
)
# The champion of another schema: humidity_pct added, vibration_mm_s removed.
V2 = Layout(
    schema_name="predictive_maintenance_v2",
    version="3c4d00000000",
    label=LAYOUT.label,
    features=[*LAYOUT.features[:-1], "humidity_pct"],
)


def columns(rows: list[dict[str, Any]], layout: Layout) -> np.ndarray:
    """The records as a matrix in ``layout``'s features, NaN for a feature they do not have."""
    return np.array([[row.get(name, np.nan) for name in layout.features] for row in rows], dtype=np.float32)


def trained(layout: Layout, *, seed: int = 3, shuffle: bool = False) -> bytes:
    """A small model.tar.gz trained on ``layout``'s columns of synthetic records."""
    rows = records(1500, seed, shuffle_labels=shuffle)
    labels = [row["failure_within_horizon"] for row in rows]
    matrix = xgb.DMatrix(columns(rows, layout), label=labels, missing=np.nan)
    booster = xgb.train({"max_depth": 3, "eta": 0.3, "objective": "binary:logistic", "nthread": 1}, matrix, 15)
    return packaged_model(bytes(booster.save_raw("ubj")))


class Stack:
    """The buckets, state table and registry the evaluation reads, in moto."""

    def __init__(self) -> None:
        aws.client.cache_clear()
        create_state_table()
        self.s3 = boto3.client("s3")
        for bucket in (DATA, ARTIFACTS):
            self.s3.create_bucket(Bucket=bucket)
        boto3.client("sagemaker").create_model_package_group(ModelPackageGroupName=GROUP)
        self.test_rows = records(120, 21)

    def model(self, name: str, layout: Layout, **options: Any) -> str:
        key = f"training/{name}/output/model.tar.gz"
        self.s3.put_object(Bucket=ARTIFACTS, Key=key, Body=trained(layout, **options))
        return f"s3://{ARTIFACTS}/{key}"

    def test_channel(self, objects: int = 2) -> str:
        """The test rows split over ``objects`` objects, and their manifest's URI."""
        keys = []
        for number in range(objects):
            key = f"datasets/parts/p{number}/test.csv"
            body = csv_text(self.test_rows[number::objects], LAYOUT.columns, header=False)
            self.s3.put_object(Bucket=DATA, Key=key, Body=body.encode())
            keys.append(key)
        manifest = "datasets/channels/run-000002/test.manifest"
        self.s3.put_object(Bucket=DATA, Key=manifest, Body=json.dumps([{"prefix": f"s3://{DATA}/"}, *keys]).encode())
        return f"s3://{DATA}/{manifest}"

    def crown(self, model_data_url: str, layout: Layout | None, validation_auc: float = 0.9) -> str:
        """Register a champion whose report records ``layout`` (none: a report from before layouts)."""
        report = {"metrics": {"validation:auc": validation_auc}} | ({"layout": layout.model_dump()} if layout else {})
        self.s3.put_object(Bucket=ARTIFACTS, Key="evaluations/run-000001/evaluation.json", Body=json.dumps(report))
        arn: str = boto3.client("sagemaker").create_model_package(
            ModelPackageGroupName=GROUP,
            ModelApprovalStatus="Approved",
            InferenceSpecification={
                "Containers": [{"Image": "xgboost", "ModelDataUrl": model_data_url}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            ModelMetrics={
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": f"s3://{ARTIFACTS}/evaluations/run-000001/evaluation.json",
                    }
                }
            },
        )["ModelPackageArn"]
        set_champion("state", ChampionPointer(package_arn=arn, version=1, promoted_at=datetime.now(UTC)))
        return arn

    def report(self, uri: str) -> Any:
        bucket, key = aws.split_s3_uri(uri)
        return json.loads(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())


@pytest.fixture
def stack() -> Iterator[Stack]:
    with mock_aws():
        yield Stack()


def run_input(model_data_url: str, test_manifest: str, *, test_rows: int = 120, layout: Layout = LAYOUT) -> Any:
    event = load_event("retraining/evaluate_model.json")
    event["run_id"] = "run-000002"
    event["training"]["ModelDataUrl"] = model_data_url
    # The training rows the baseline is taken from: the test rows will do
    event["channels"] |= {"train": test_manifest, "test": test_manifest, "layout": layout.model_dump()}
    event["channels"]["rows"]["test"] = test_rows
    return EvaluationInput.model_validate(event)


def expected_auc(model_data_url: str, rows: list[dict[str, Any]], layout: Layout) -> float:
    labels = np.array([row["failure_within_horizon"] for row in rows], dtype=np.float32)
    return score(load_model(model_data_url), columns(rows, layout), labels, "auc")


def test_the_sample_event_parses() -> None:
    assert EvaluationInput.model_validate(load_event("retraining/evaluate_model.json")).channels.layout == LAYOUT


def test_the_champions_columns_are_taken_by_name_and_missing_ones_are_nan() -> None:
    # Given two test rows in the run's layout
    rows = ChannelRows(
        layout=LAYOUT,
        labels=np.array([0, 1], dtype=np.float32),
        features=np.array([[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]], dtype=np.float32),
    )
    # When they are laid out for a champion that has humidity_pct instead of vibration_mm_s, in another order
    champion = V2.model_copy(update={"features": ["humidity_pct", "torque_nm", "air_temperature_k"]})
    arranged = rows.columns_for(champion)
    # Then each feature is the run's column of its name, and the one the run lacks is missing
    np.testing.assert_array_equal(arranged, [[np.nan, 4, 1], [np.nan, 10, 7]])
    assert rows.columns_for(LAYOUT) is rows.features


def test_at_most_max_rows_are_read_the_newest_objects_first(stack: Stack) -> None:
    manifest = stack.test_channel(objects=2)
    rows = read_rows(manifest, LAYOUT, 70)
    first_object = stack.test_rows[0::2]
    second_object = stack.test_rows[1::2]
    assert rows.count == 70
    np.testing.assert_array_equal(rows.features, columns(second_object + first_object[:10], LAYOUT))


def test_without_a_champion_only_the_floor_applies_to_the_test_metric(stack: Stack) -> None:
    challenger = stack.model("run-000002", LAYOUT)
    evaluation = evaluate(SETTINGS, run_input(challenger, stack.test_channel()))
    assert (evaluation.decision, evaluation.approval_status, evaluation.measured_on) == ("Approved", "Approved", "test")
    assert evaluation.rows_scored == 120
    assert evaluation.metric_value == pytest.approx(expected_auc(challenger, stack.test_rows, LAYOUT))
    report = stack.report(evaluation.report_uri)
    assert report["champion"] is None
    assert report["layout"] == LAYOUT.model_dump()
    assert evaluation.metadata["schema_name"] == "predictive_maintenance"
    assert evaluation.metadata["schema_version"] == LAYOUT.version


def test_both_models_are_scored_on_the_same_rows_and_a_regression_is_rejected(stack: Stack) -> None:
    # Given a champion that learned the signal, whose own training once scored 0.99
    champion = stack.model("run-000001", LAYOUT)
    stack.crown(champion, LAYOUT, validation_auc=0.99)
    # When a challenger trained on shuffled labels is evaluated on the run's test rows (floor lowered to let it pass)
    challenger = stack.model("run-000002", LAYOUT, shuffle=True)
    settings = SETTINGS.model_copy(update={"metric_floor": 0.0})
    evaluation = evaluate(settings, run_input(challenger, stack.test_channel()))
    # Then both are measured on those rows, and the challenger regresses against the champion's test metric
    champion_auc = expected_auc(champion, stack.test_rows, LAYOUT)
    assert evaluation.champion_metric_value == pytest.approx(champion_auc)
    assert evaluation.decision == "Rejected"
    assert [reason.split(":")[0] for reason in evaluation.reasons] == ["regression"]
    report = stack.report(evaluation.report_uri)
    assert report["champion"]["value"] == pytest.approx(champion_auc)
    assert report["champion"]["stored_value"] == 0.99
    assert report["test"]["rows_scored"] == 120
    assert evaluation.metadata["champion_value"] == f"{champion_auc:.6f}"


def test_a_champion_of_another_schema_is_scored_on_its_columns_and_its_release_waits_for_a_person(
    stack: Stack,
) -> None:
    # Given a champion trained on humidity_pct (which this run lacks) and without vibration_mm_s
    champion = stack.model("run-000001", V2)
    stack.crown(champion, V2)
    # When a run in the current schema is evaluated in automatic mode
    challenger = stack.model("run-000002", LAYOUT)
    evaluation = evaluate(SETTINGS, run_input(challenger, stack.test_channel()))
    # Then the champion is scored on its own features by name, humidity missing
    assert evaluation.champion_metric_value == pytest.approx(expected_auc(champion, stack.test_rows, V2))
    # And the approved model waits for a person, who is told why
    assert (evaluation.decision, evaluation.approval_status) == ("Approved", "PendingManualApproval")
    assert (
        "the feature schema changed (predictive_maintenance_v2 3c4d00000000 → predictive_maintenance "
        f"{LAYOUT.version}): added vibration_mm_s; removed humidity_pct; approve to release"
    ) in evaluation.description


def test_a_champion_without_a_recorded_layout_is_taken_to_be_in_the_runs(stack: Stack) -> None:
    champion = stack.model("run-000001", LAYOUT)
    stack.crown(champion, None)
    evaluation = evaluate(SETTINGS, run_input(stack.model("run-000002", LAYOUT), stack.test_channel()))
    assert evaluation.champion_metric_value == pytest.approx(expected_auc(champion, stack.test_rows, LAYOUT))
    assert evaluation.approval_status == "Approved"


def test_a_champion_with_another_label_is_not_compared_and_the_report_says_why(stack: Stack) -> None:
    other_label = LAYOUT.model_copy(update={"label": LabelSpec(name="failure_within_horizon", values=[0, 1, 2])})
    stack.crown(stack.model("run-000001", LAYOUT), other_label, validation_auc=0.99)
    evaluation = evaluate(SETTINGS, run_input(stack.model("run-000002", LAYOUT), stack.test_channel()))
    assert evaluation.champion_metric_value is None
    assert evaluation.decision == "Approved"
    assert evaluation.approval_status == "PendingManualApproval"
    report = stack.report(evaluation.report_uri)
    assert any("cannot be compared, only the floor applies" in note for note in report["notes"])


def test_an_empty_test_channel_falls_back_to_the_validation_metric_against_the_champions_stored_one(
    stack: Stack,
) -> None:
    stack.crown(stack.model("run-000001", LAYOUT), LAYOUT, validation_auc=0.99)
    challenger = stack.model("run-000002", LAYOUT)
    evaluation = evaluate(SETTINGS, run_input(challenger, stack.test_channel(objects=0), test_rows=0))
    assert (evaluation.measured_on, evaluation.rows_scored, evaluation.metric_value) == ("validation", 0, 0.84)
    assert evaluation.champion_metric_value == 0.99
    assert evaluation.decision == "Rejected"
    assert "no test rows in this run" in evaluation.description
    assert any(reason.startswith("regression:") for reason in evaluation.reasons)


def test_test_rows_of_one_class_fall_back_to_the_validation_metric(stack: Stack) -> None:
    stack.test_rows = [row | {"failure_within_horizon": 0} for row in stack.test_rows]
    evaluation = evaluate(SETTINGS, run_input(stack.model("run-000002", LAYOUT), stack.test_channel()))
    assert (evaluation.measured_on, evaluation.metric_value) == ("validation", 0.84)
    assert evaluation.decision == "Approved"
    assert "auc is undefined on the test rows" in evaluation.description


def test_a_champion_without_recorded_columns_and_another_width_is_not_compared_and_waits_for_a_person(
    stack: Stack,
) -> None:
    narrow = LAYOUT.model_copy(update={"version": "narrow", "features": LAYOUT.features[:-1]})
    stack.crown(stack.model("run-000001", narrow), None, validation_auc=0.99)
    evaluation = evaluate(SETTINGS, run_input(stack.model("run-000002", LAYOUT), stack.test_channel()))
    assert evaluation.champion_metric_value is None
    assert (evaluation.decision, evaluation.approval_status) == ("Approved", "PendingManualApproval")
    assert "records no columns and its model takes 5 features, this run's 6" in evaluation.description
