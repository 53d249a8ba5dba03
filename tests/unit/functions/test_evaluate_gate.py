"""The gate: an absolute floor AND no regression beyond the tolerance; an empty registry is normal."""

from __future__ import annotations

import pytest
from evaluation import EvaluateSettings, approval_status, gate, schema_change

from conveyor.schema import load_schema

SETTINGS = EvaluateSettings(
    project_name="conveyor",
    stage="dev",
    conveyor_version="0.1.0",
    state_table_name="state",
    artifact_bucket_name="artifacts",
    model_package_group_name="models",
    objective_metric="validation:auc",
    objective_direction="Maximize",
    metric_floor=0.7,
    regression_tolerance=0.01,
)


@pytest.mark.parametrize(
    ("value", "champion", "decision", "rules"),
    [
        (0.82, None, "Approved", []),
        (0.65, None, "Rejected", ["below floor"]),
        (0.80, 0.805, "Approved", []),
        (0.78, 0.80, "Rejected", ["regression"]),
        (0.60, 0.80, "Rejected", ["below floor", "regression"]),
    ],
)
def test_the_gate_decides_with_its_reasons(
    value: float, champion: float | None, decision: str, rules: list[str]
) -> None:
    verdict, reasons = gate(SETTINGS, value, champion)
    assert verdict == decision
    assert [reason.split(":")[0] for reason in reasons] == rules


def test_for_a_metric_to_minimise_lower_is_better() -> None:
    settings = SETTINGS.model_copy(
        update={"objective_metric": "validation:logloss", "objective_direction": "Minimize", "metric_floor": 0.5}
    )
    assert gate(settings, 0.30, 0.31)[0] == "Approved"
    assert gate(settings, 0.35, 0.30)[1][0].startswith("regression")
    assert gate(settings, 0.60, None)[1][0].startswith("below floor")


@pytest.mark.parametrize(
    ("mode", "decision", "status"),
    [
        ("automatic", "Approved", "Approved"),
        ("automatic", "Rejected", "Rejected"),
        ("manual", "Approved", "PendingManualApproval"),
        ("manual", "Rejected", "Rejected"),
    ],
)
def test_the_approval_mode_decides_how_a_passing_model_is_registered(mode: str, decision: str, status: str) -> None:
    settings = SETTINGS.model_copy(update={"approval_mode": mode})
    assert approval_status(settings, decision) == status  # type: ignore[arg-type]


# Binary fractions, so that the boundaries are exact: floor 0.5, champion 0.75, tolerance 0.125.
EXACT = SETTINGS.model_copy(update={"metric_floor": 0.5, "regression_tolerance": 0.125})


@pytest.mark.parametrize(
    ("direction", "value", "champion", "rules"),
    [
        ("Maximize", 0.5, None, []),
        ("Maximize", 0.4999, None, ["below floor"]),
        ("Maximize", 0.625, 0.75, []),
        ("Maximize", 0.6249, 0.75, ["regression"]),
        ("Minimize", 0.5, None, []),
        ("Minimize", 0.5001, None, ["below floor"]),
        ("Minimize", 0.375, 0.25, []),
        ("Minimize", 0.3751, 0.25, ["regression"]),
    ],
)
def test_the_floor_and_the_tolerance_are_inclusive_in_both_directions(
    direction: str, value: float, champion: float | None, rules: list[str]
) -> None:
    settings = EXACT.model_copy(update={"objective_direction": direction})
    assert [reason.split(":")[0] for reason in gate(settings, value, champion)[1]] == rules


@pytest.mark.parametrize(("decision", "status"), [("Approved", "PendingManualApproval"), ("Rejected", "Rejected")])
def test_a_model_that_needs_a_person_waits_for_one_even_in_automatic_mode(decision: str, status: str) -> None:
    assert approval_status(SETTINGS, decision, needs_person=True) == status  # type: ignore[arg-type]


def test_a_schema_change_says_what_was_added_and_removed() -> None:
    old = load_schema("predictive_maintenance").layout
    new = old.model_copy(update={"features": [*old.features[:-1], "humidity_pct"], "version": "3c4d"})
    assert schema_change(old, old) is None
    assert schema_change(old, new) == (
        f"the feature schema changed (predictive_maintenance {old.version} → predictive_maintenance 3c4d): "
        "added humidity_pct; removed vibration_mm_s"
    )
    reordered = old.model_copy(update={"features": old.features[::-1]})
    assert schema_change(old, reordered) is not None
    assert schema_change(old, reordered).endswith("features reordered")  # type: ignore[union-attr]
