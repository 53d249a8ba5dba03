"""What an evaluation leaves behind (moto, no network): its report, the model package the workflow registers
from it, and what the next run reads back from the registry."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import numpy as np
import pytest
from baseline import fit_baseline
from evaluation import Evaluation, FinalMetric, MetricNotFoundError, evaluate
from moto import mock_aws
from scoring import read_rows

from conveyor.drift import Baseline
from conveyor.registry import champion, champion_baseline
from conveyor.schema import LabelSpec, Layout
from conveyor.state.champion import ChampionPointer, set_champion
from tests.conftest import ROOT
from tests.unit.functions.test_evaluate_scoring import (
    ARTIFACTS,
    GROUP,
    LAYOUT,
    SETTINGS,
    V2,
    Stack,
    expected_auc,
    run_input,
    trained,
)

STATES = json.loads((ROOT / "statemachines" / "retraining.asl.json").read_text())["States"]
SUBSTITUTIONS = {"${ModelPackageGroupName}": GROUP, "${TrainingImage}": "xgboost"}


@pytest.fixture
def stack() -> Iterator[Stack]:
    with mock_aws():
        yield Stack()


@functools.cache
def _trained(layout: str, seed: int, shuffle: bool) -> bytes:
    return trained(Layout.model_validate_json(layout), seed=seed, shuffle=shuffle)


def model(stack: Stack, name: str, layout: Layout = LAYOUT, *, seed: int = 3, shuffle: bool = False) -> str:
    """``stack.model``, each model trained once for the module."""
    key = f"training/{name}/output/model.tar.gz"
    stack.s3.put_object(Bucket=ARTIFACTS, Key=key, Body=_trained(layout.model_dump_json(), seed, shuffle))
    return f"s3://{ARTIFACTS}/{key}"


def _resolved(value: Any, state: dict[str, Any]) -> Any:
    """A state's Parameters on its input: ``"Key.$": "$.a.b"`` takes the input's a.b; ``${...}`` is substituted."""
    if isinstance(value, dict):
        return {
            key.removesuffix(".$"): _path(state, item) if key.endswith(".$") else _resolved(item, state)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_resolved(item, state) for item in value]
    return SUBSTITUTIONS.get(value, value) if isinstance(value, str) else value


def _path(state: dict[str, Any], path: str) -> Any:
    found: Any = state
    for key in path.removeprefix("$.").split("."):
        found = found[key]
    return found


def register(run_id: str, evaluation: Evaluation) -> dict[str, Any]:
    """Register the model package as the workflow does with the function's reply (the fields "Evaluate against
    the champion" selects, then "Register model package"'s parameters), and describe it as the registry keeps it."""
    reply = {"Payload": json.loads(json.dumps(evaluation.model_dump()))}
    state = {
        "run_id": run_id,
        "evaluation": _resolved(STATES["Evaluate against the champion"]["ResultSelector"], reply),
    }
    parameters = _resolved(STATES["Register model package"]["Parameters"], state)
    sagemaker = boto3.client("sagemaker")
    arn = sagemaker.create_model_package(**parameters)["ModelPackageArn"]
    return sagemaker.describe_model_package(ModelPackageName=arn)


def test_the_report_records_what_was_measured_on_which_rows_against_which_champion(stack: Stack) -> None:
    # Given a champion registered with its own training's AUC of 0.9 and the run's layout
    champion_model = model(stack, "run-000001")
    champion_arn = stack.crown(champion_model, LAYOUT, validation_auc=0.9)
    # When the run's challenger is evaluated on its 120 test rows
    manifest = stack.test_channel()
    challenger = model(stack, "run-000002", seed=5)
    evaluation = evaluate(SETTINGS, run_input(challenger, manifest))
    # Then the report says what was measured, on which rows, against which champion, and what was decided
    assert evaluation.metric_value == pytest.approx(expected_auc(challenger, stack.test_rows, LAYOUT))
    assert evaluation.champion_metric_value == pytest.approx(expected_auc(champion_model, stack.test_rows, LAYOUT))
    assert evaluation.report_uri == f"s3://{SETTINGS.artifact_bucket_name}/evaluations/run-000002/evaluation.json"
    assert stack.report(evaluation.report_uri) == {
        "run_id": "run-000002",
        "training_job_name": "conveyor-dev-run-000001",
        "metrics": {"train:auc": 0.97, "validation:auc": 0.84},
        "layout": LAYOUT.model_dump(mode="json"),
        "objective": {
            "name": "validation:auc",
            "direction": "Maximize",
            "value": evaluation.metric_value,
            "measured_on": "test",
            "validation_value": 0.84,
        },
        "test": {"manifest": manifest, "rows": 120, "rows_scored": 120, "max_rows": 200_000},
        "champion": {
            "package_arn": champion_arn,
            "value": evaluation.champion_metric_value,
            "stored_value": 0.9,
            "layout": LAYOUT.model_dump(mode="json"),
        },
        "decision": "Approved",
        "approval_status": "Approved",
        "reasons": [],
        "notes": [],
    }
    assert evaluation.champion_package_arn == champion_arn


@pytest.mark.parametrize(
    ("mode", "shuffled", "status"),
    [
        ("automatic", False, "Approved"),
        ("manual", False, "PendingManualApproval"),
        ("automatic", True, "Rejected"),
    ],
)
def test_the_model_package_is_registered_with_the_evaluations_status_and_metadata(
    stack: Stack, mode: str, shuffled: bool, status: str
) -> None:
    # Given a champion, and a challenger that learned the signal or, shuffled, nothing (floor 0.6)
    champion_model = model(stack, "run-000001")
    stack.crown(champion_model, LAYOUT)
    challenger = model(stack, "run-000002", seed=5, shuffle=shuffled)
    # When it is evaluated in this approval mode and registered as the workflow does
    settings = SETTINGS.model_copy(update={"approval_mode": mode})
    evaluation = evaluate(settings, run_input(challenger, stack.test_channel()))
    package = register("run-000002", evaluation)
    # Then the package has the status, the model, the report and the metadata of its evaluation
    value, champion_value = evaluation.metric_value, evaluation.champion_metric_value
    assert champion_value is not None
    decision = "Rejected" if shuffled else "Approved"
    assert package["ModelApprovalStatus"] == status
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == challenger
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == evaluation.report_uri
    assert package["CustomerMetadataProperties"] == {
        "run_id": "run-000002",
        "training_job_name": "conveyor-dev-run-000001",
        "objective_metric": "validation:auc",
        "objective_value": f"{value:.6f}",
        "measured_on": "test",
        "rows_scored": "120",
        "validation_value": "0.840000",
        "decision": decision,
        "schema_name": "predictive_maintenance",
        "schema_version": LAYOUT.version,
        "champion_value": f"{champion_value:.6f}",
    }
    summary = (
        f"{decision}: validation:auc {value:.4f} on 120 test rows (champion {champion_value:.4f} on the same rows)"
    )
    assert package["ModelPackageDescription"] == "; ".join([summary, *evaluation.reasons])


def test_the_next_run_reads_the_registered_model_back_as_champion_with_its_metrics_and_columns(stack: Stack) -> None:
    # Given a model evaluated, registered and then promoted
    challenger = model(stack, "run-000002")
    package = register("run-000002", evaluate(SETTINGS, run_input(challenger, stack.test_channel())))
    set_champion(
        "state", ChampionPointer(package_arn=package["ModelPackageArn"], version=1, promoted_at=datetime.now(UTC))
    )
    # When the next run looks up the champion
    current = champion("state")
    # Then it finds the model, the metrics its training reported and the columns it was trained on
    assert current is not None
    assert (current.model_data_url, current.layout) == (challenger, LAYOUT)
    assert current.metrics == {"train:auc": 0.97, "validation:auc": 0.84}


def test_the_package_points_at_the_drift_baseline_of_its_training_rows_which_ingestion_reads_back(
    stack: Stack,
) -> None:
    # Given a run whose training rows are the stack's 120 generated rows
    run = run_input(model(stack, "run-000002"), stack.test_channel())
    # When it is evaluated, registered and promoted
    evaluation = evaluate(SETTINGS, run)
    package = register("run-000002", evaluation)
    set_champion(
        "state", ChampionPointer(package_arn=package["ModelPackageArn"], version=1, promoted_at=datetime.now(UTC))
    )
    # Then its baseline is stored beside its report, fitted on every training row read as 64-bit floats
    assert evaluation.baseline_uri == f"s3://{ARTIFACTS}/evaluations/run-000002/baseline.json"
    rows = read_rows(run.channels.train, LAYOUT, 1000, dtype=np.float64)
    expected = fit_baseline("run-000002", rows)
    assert rows.count == 120
    assert Baseline.model_validate(stack.report(evaluation.baseline_uri)) == expected
    # And the package's DriftCheckBaselines point at it, so the champion's baseline is found through the registry
    assert package["DriftCheckBaselines"] == {
        "ModelDataQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": evaluation.baseline_uri}}
    }
    assert champion_baseline("state") == expected


def test_a_rejected_model_of_a_changed_schema_is_told_the_change_but_not_to_approve_it(stack: Stack) -> None:
    # Given a champion of another schema
    stack.crown(model(stack, "run-000001", V2), V2)
    # When a challenger below the floor is evaluated
    evaluation = evaluate(
        SETTINGS.model_copy(update={"metric_floor": 0.99}),
        run_input(model(stack, "run-000002"), stack.test_channel()),
    )
    # Then it is rejected, and its notes name the schema change without asking for an approval
    assert (evaluation.decision, evaluation.approval_status) == ("Rejected", "Rejected")
    assert evaluation.notes == [
        f"the feature schema changed (predictive_maintenance_v2 3c4d00000000 → predictive_maintenance "
        f"{LAYOUT.version}): added vibration_mm_s; removed humidity_pct"
    ]


def test_a_training_job_that_did_not_report_the_objective_metric_is_an_error_naming_both(stack: Stack) -> None:
    run = run_input(model(stack, "run-000002"), stack.test_channel())
    run.training.final_metric_data_list = [
        m for m in run.training.final_metric_data_list if m.metric_name != "validation:auc"
    ]
    with pytest.raises(
        MetricNotFoundError,
        match=r"conveyor-dev-run-000001 reported \['train:auc'\], not the objective metric validation:auc",
    ):
        evaluate(SETTINGS, run)


def test_a_description_longer_than_the_registry_takes_is_cut_to_its_1024_characters(stack: Stack) -> None:
    # Given a champion of a label with 400 values, which the notes spell out twice
    many = LAYOUT.model_copy(update={"label": LabelSpec(name="failure_within_horizon", values=list(range(400)))})
    stack.crown(model(stack, "run-000001"), many)
    # When the run is evaluated and registered
    evaluation = evaluate(SETTINGS, run_input(model(stack, "run-000002"), stack.test_channel()))
    package = register("run-000002", evaluation)
    # Then its description is the first 1024 characters of the summary and the notes
    summary = f"Approved: validation:auc {evaluation.metric_value:.4f} on 120 test rows"
    assert len("; ".join([summary, *evaluation.notes])) > 1024
    assert package["ModelPackageDescription"] == "; ".join([summary, *evaluation.notes])[:1024]


@pytest.mark.parametrize(
    ("stored", "note", "summary"),
    [
        pytest.param(None, "", "Approved: validation:auc 0.8400 on the validation channel", id="no-champion"),
        pytest.param(
            0.8,
            ", against the champion's stored one",
            "Approved: validation:auc 0.8400 on the validation channel (champion 0.8000 stored)",
            id="champion",
        ),
    ],
)
def test_a_run_without_test_rows_is_gated_on_its_validation_metric_and_says_so(
    stack: Stack, stored: float | None, note: str, summary: str
) -> None:
    # Given a champion whose own training reported 0.8, or none
    if stored is not None:
        stack.crown(model(stack, "run-000001"), LAYOUT, validation_auc=stored)
    # When a run with an empty test channel is evaluated
    evaluation = evaluate(SETTINGS, run_input(model(stack, "run-000002"), stack.test_channel(objects=0), test_rows=0))
    # Then its validation metric is gated, against the champion's stored one if any, and the notes say so
    expected = f"no test rows in this run: the training job's validation:auc is gated{note}"
    assert evaluation.notes == [expected]
    assert (evaluation.measured_on, evaluation.rows_scored, evaluation.champion_metric_value) == (
        "validation",
        0,
        stored,
    )
    assert evaluation.description == f"{summary}; {expected}"


@pytest.mark.parametrize("recorded", [pytest.param({"test": 0}, id="zero"), pytest.param({}, id="no-count")])
def test_a_run_that_recorded_no_test_rows_does_not_read_its_test_channel(
    stack: Stack, recorded: dict[str, int]
) -> None:
    # Given a run whose channels recorded no test rows (or no count), and whose test manifest cannot be read
    run = run_input(model(stack, "run-000002"), "s3://data/datasets/channels/run-000002/absent.manifest")
    run.channels.rows = {"train": 141, "validation": 39} | recorded
    run.channels.train = stack.test_channel()
    # When it is evaluated
    evaluation = evaluate(SETTINGS, run)
    # Then it is gated on its validation metric without reading the manifest, and the report counts no test rows
    assert evaluation.measured_on == "validation"
    assert stack.report(evaluation.report_uri)["test"]["rows"] == 0


@pytest.mark.parametrize(
    ("metric", "direction", "measured", "notes"),
    [
        pytest.param("validation:rmse", "Minimize", ("test", 1), [], id="rmse-is-scored"),
        pytest.param(
            "validation:auc",
            "Maximize",
            ("validation", 0),
            ["auc is undefined on the test rows: the training job's validation:auc is gated"],
            id="auc-is-undefined",
        ),
    ],
)
def test_a_single_test_row_is_scored_where_the_metric_is_defined_on_it(
    stack: Stack, metric: str, direction: str, measured: tuple[str, int], notes: list[str]
) -> None:
    # Given a run with one test row, gated on rmse or auc
    stack.test_rows = stack.test_rows[:1]
    run = run_input(model(stack, "run-000002"), stack.test_channel(objects=1), test_rows=1)
    run.training.final_metric_data_list.append(FinalMetric(MetricName="validation:rmse", Value=0.3))
    settings = SETTINGS.model_copy(
        update={"objective_metric": metric, "objective_direction": direction, "metric_floor": 0.0}
    )
    # When it is evaluated
    evaluation = evaluate(settings, run)
    # Then rmse is measured on that row, and auc, which needs both classes, falls back to the validation metric
    assert (evaluation.measured_on, evaluation.rows_scored) == measured
    assert evaluation.notes == notes


def test_a_metric_xgboost_cannot_compute_on_the_test_rows_falls_back_to_the_validation_metric(stack: Stack) -> None:
    # Given a run gated on mlogloss, a multi-class metric XGBoost refuses for a binary model's rows
    run = run_input(model(stack, "run-000002"), stack.test_channel())
    run.training.final_metric_data_list.append(FinalMetric(MetricName="validation:mlogloss", Value=0.3))
    settings = SETTINGS.model_copy(
        update={"objective_metric": "validation:mlogloss", "objective_direction": "Minimize", "metric_floor": 1.0}
    )
    # When it is evaluated
    evaluation = evaluate(settings, run)
    # Then the training job's validation metric is gated, and the note says why
    assert (evaluation.measured_on, evaluation.metric_value, evaluation.decision) == ("validation", 0.3, "Approved")
    assert evaluation.notes == [
        "mlogloss is undefined on the test rows: the training job's validation:mlogloss is gated"
    ]


def test_test_objects_without_rows_are_no_test_rows(stack: Stack) -> None:
    # Given a run that recorded test rows whose objects turn out to hold none
    run = run_input(model(stack, "run-000002"), stack.test_channel(objects=0), test_rows=120)
    # When it is evaluated, then its validation metric is gated, and the note says there were no test rows
    evaluation = evaluate(SETTINGS, run)
    assert (evaluation.measured_on, evaluation.rows_scored) == ("validation", 0)
    assert evaluation.notes == ["no test rows in this run: the training job's validation:auc is gated"]


@pytest.mark.parametrize(
    ("champion_shuffled", "challenger_shuffled", "reasons"),
    [
        pytest.param(False, True, ["regression"], id="higher-logloss-regresses"),
        pytest.param(True, False, [], id="lower-logloss-passes"),
    ],
)
def test_a_metric_to_minimise_is_measured_on_the_test_rows_lower_being_better(
    stack: Stack, champion_shuffled: bool, challenger_shuffled: bool, reasons: list[str]
) -> None:
    # Given a champion and a challenger, one of which learned nothing, gated on logloss (floor 1.0)
    stack.crown(model(stack, "run-000001", shuffle=champion_shuffled), LAYOUT)
    challenger = model(stack, "run-000002", seed=5, shuffle=challenger_shuffled)
    settings = SETTINGS.model_copy(
        update={"objective_metric": "validation:logloss", "objective_direction": "Minimize", "metric_floor": 1.0}
    )
    run = run_input(challenger, stack.test_channel())
    run.training.final_metric_data_list.append(FinalMetric(MetricName="validation:logloss", Value=0.3))
    # When it is evaluated
    evaluation = evaluate(settings, run)
    # Then both are scored on the test rows' logloss, and only a higher one than the champion's regresses
    assert evaluation.measured_on == "test"
    assert evaluation.champion_metric_value is not None
    assert (evaluation.metric_value > evaluation.champion_metric_value) == challenger_shuffled
    assert [reason.split(":")[0] for reason in evaluation.reasons] == reasons
