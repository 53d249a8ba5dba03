"""The gate: an absolute floor AND no regression beyond the tolerance; an empty registry is normal."""

from __future__ import annotations

import pytest
from evaluation import EvaluateSettings, approval_status, gate, schema_change

from conveyor.errors import ConfigurationError
from conveyor.schema import LabelSpec, load_schema

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


# A metric to maximise and two to minimise; ``sign`` is +1 where higher is better. Binary fractions, so that
# the boundaries are exact: floor 0.5, champion 0.25 better than the floor, tolerance 0.125.
DIRECTIONS = [
    pytest.param("validation:auc", "Maximize", 1, id="auc"),
    pytest.param("validation:rmse", "Minimize", -1, id="rmse"),
    pytest.param("validation:logloss", "Minimize", -1, id="logloss"),
]
FLOOR, TOLERANCE, JUST = 0.5, 0.125, 2**-10


def boundary(metric: str, direction: str) -> EvaluateSettings:
    return SETTINGS.model_copy(
        update={
            "objective_metric": metric,
            "objective_direction": direction,
            "metric_floor": FLOOR,
            "regression_tolerance": TOLERANCE,
        }
    )


@pytest.mark.parametrize(("metric", "direction", "sign"), DIRECTIONS)
@pytest.mark.parametrize(
    ("beyond", "rules"), [pytest.param(0.0, [], id="at"), pytest.param(JUST, ["below floor"], id="just-worse")]
)
def test_a_metric_exactly_at_the_floor_passes_and_just_worse_fails(
    metric: str, direction: str, sign: int, beyond: float, rules: list[str]
) -> None:
    # Given no champion, when the metric is at the floor or just on its worse side
    verdict, reasons = gate(boundary(metric, direction), FLOOR - sign * beyond, None)
    # Then only just worse is below it
    assert [reason.split(":")[0] for reason in reasons] == rules
    assert verdict == ("Rejected" if rules else "Approved")


@pytest.mark.parametrize(("metric", "direction", "sign"), DIRECTIONS)
@pytest.mark.parametrize(
    ("beyond", "rules"),
    [pytest.param(0.0, [], id="by-the-tolerance"), pytest.param(JUST, ["regression"], id="by-more")],
)
def test_a_challenger_worse_than_the_champion_by_the_tolerance_passes_and_by_more_fails(
    metric: str, direction: str, sign: int, beyond: float, rules: list[str]
) -> None:
    # Given a champion 0.25 better than the floor, when the challenger is worse by the tolerance or just more
    champion = FLOOR + sign * 0.25
    verdict, reasons = gate(boundary(metric, direction), champion - sign * (TOLERANCE + beyond), champion)
    # Then only more than the tolerance is a regression (the challenger still clears the floor)
    assert [reason.split(":")[0] for reason in reasons] == rules
    assert verdict == ("Rejected" if rules else "Approved")


@pytest.mark.parametrize(("metric", "direction", "sign"), DIRECTIONS)
def test_a_challenger_better_than_the_champion_passes_whatever_the_direction(
    metric: str, direction: str, sign: int
) -> None:
    champion = FLOOR + sign * 0.25
    assert gate(boundary(metric, direction), champion + sign * JUST, champion) == ("Approved", [])


def test_the_reasons_name_the_metric_its_value_and_what_it_failed_to_reach() -> None:
    # Given an rmse worse than its floor and than the champion beyond the tolerance
    _, reasons = gate(boundary("validation:rmse", "Minimize"), 0.625, 0.25)
    # Then each reason says which rule, with the numbers
    assert reasons == [
        "below floor: validation:rmse 0.6250 does not reach 0.5000",
        "regression: validation:rmse 0.6250 against the champion's 0.2500 on the same rows (tolerance 0.1250)",
    ]


def test_a_regression_against_a_stored_champion_value_says_it_was_stored() -> None:
    # Given no test rows: the champion's value is the one its own training stored
    _, reasons = gate(boundary("validation:rmse", "Minimize"), 0.4375, 0.25, champion_stored=True)
    # Then the reason does not claim both were scored on the same rows
    assert reasons == ["regression: validation:rmse 0.4375 against the champion's 0.2500 stored (tolerance 0.1250)"]


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


def test_a_schema_change_of_the_label_says_what_it_was_and_is() -> None:
    old = load_schema("predictive_maintenance").layout
    new = old.model_copy(
        update={"label": LabelSpec(name="failure_within_horizon", values=[0, 1, 2]), "version": "3c4d"}
    )
    assert schema_change(old, new) == (
        f"the feature schema changed (predictive_maintenance {old.version} → predictive_maintenance 3c4d): "
        "label failure_within_horizon [0, 1] is now failure_within_horizon [0, 1, 2]"
    )


@pytest.mark.parametrize(("max_rows", "valid"), [("1", True), ("0", False)])
def test_evaluation_max_rows_must_be_at_least_one(max_rows: str, valid: bool) -> None:
    # Given the function's environment with EVALUATION_MAX_ROWS at 1 or 0
    environ = {name.upper(): str(value) for name, value in SETTINGS.model_dump().items()}
    environ["EVALUATION_MAX_ROWS"] = max_rows
    # When the settings are read at cold start, then 1 row is a limit and 0 fails naming the variable
    if valid:
        settings = EvaluateSettings.from_env(environ)
        assert (settings.evaluation_max_rows, settings.metric) == (1, "auc")
    else:
        with pytest.raises(ConfigurationError, match="EVALUATION_MAX_ROWS: Input should be greater than 0"):
            EvaluateSettings.from_env(environ)
