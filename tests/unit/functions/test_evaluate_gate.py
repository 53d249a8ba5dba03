"""The gate: an absolute floor AND no regression beyond the tolerance; an empty registry is normal."""

from __future__ import annotations

import pytest
from evaluation import EvaluateSettings, approval_status, gate

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
