"""Drift through the local cloud: rows unlike the champion's training data start a run early, and the
gate then compares both models on the same fresh rows.

The champion is trained and released by the stack itself (the first run, on 3,000 generated rows,
with no endpoint, so the release makes it the champion at once). Drifted rows are the same
generator's, with one feature changed as a sensor's recalibration or a new machine would change it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from conveyor.aws import split_s3_uri
from conveyor.drift import Baseline, DriftCounter
from conveyor.schema import load_schema
from conveyor.state.champion import current_champion
from conveyor.state.ledger import Ledger
from conveyor_tools.stack import described_executions, evaluation_report, messages, model_packages, read_json, upload
from conveyor_tools.synthetic import Record, csv_text, records
from localcloud import LocalCloud
from localcloud.delivery import AtLeastOnce
from tests.conftest import TEMPLATE
from tests.helpers import DELIVERIES, queue

pytestmark = pytest.mark.localcloud

SCHEMA = load_schema("predictive_maintenance")
PARAMETERS = {"MinNewRows": "3000", "MinDriftRows": "500", "NumRound": "60", "EndpointEnabled": "false"}
Shift = Callable[[Record], Record]
SHIFTS: dict[str, tuple[str, Shift]] = {
    # A torque sensor recalibrated: every reading 1.6 times what it was
    "scaled": ("torque_nm", lambda r: r | {"torque_nm": round(float(r["torque_nm"]) * 1.6, 1)}),
    # An air temperature sensor that now reads 4 K high
    "offset": ("air_temperature_k", lambda r: r | {"air_temperature_k": round(float(r["air_temperature_k"]) + 4, 1)}),
    # A new machine type that vibrates far more than any the model was trained on
    "new-region": ("vibration_mm_s", lambda r: r | {"vibration_mm_s": round(float(r["vibration_mm_s"]) + 15, 2)}),
}


@contextmanager
def with_champion(parameters: dict[str, str], delivery: AtLeastOnce | None = None) -> Iterator[LocalCloud]:
    """The stack with a champion in service: its first run, trained on 3,000 rows and released."""
    with LocalCloud.from_template(TEMPLATE, parameters=PARAMETERS | parameters, delivery=delivery) as cloud:
        upload(cloud, "first.csv", csv_text(records(3000, seed=2), SCHEMA.columns).encode())
        cloud.run_until_idle(timeout=300)
        assert current_champion(cloud.outputs["StateTableName"], cloud.client("dynamodb")) is not None
        yield cloud


@pytest.fixture
def stack() -> Iterator[LocalCloud]:
    with with_champion({}) as cloud:
        yield cloud


def runs(cloud: LocalCloud) -> dict[str, dict[str, Any]]:
    """Each retraining run's workflow input, by run id."""
    return {json.loads(e["input"])["run_id"]: json.loads(e["input"]) for e in described_executions(cloud)}


def champion_baseline(cloud: LocalCloud) -> Baseline:
    """The drift baseline the champion's model package points at."""
    pointer = current_champion(cloud.outputs["StateTableName"], cloud.client("dynamodb"))
    assert pointer is not None
    package = cloud.client("sagemaker").describe_model_package(ModelPackageName=pointer.package_arn)
    bucket, key = split_s3_uri(package["DriftCheckBaselines"]["ModelDataQuality"]["Statistics"]["S3Uri"])
    return Baseline.model_validate_json(cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def drift_events(cloud: LocalCloud) -> str:
    """A queue the default bus forwards "Data Drift Detected" to: its URL."""
    url, arn = queue(cloud, "drift")
    events = cloud.client("events")
    events.put_rule(
        Name="drift", EventPattern=json.dumps({"source": ["conveyor"], "detail-type": ["Data Drift Detected"]})
    )
    events.put_targets(Rule="drift", Targets=[{"Id": "q", "Arn": arn}])
    return url


@pytest.mark.parametrize("shift", list(SHIFTS))
def test_shifted_rows_fewer_than_min_new_rows_start_a_drift_run_naming_the_shifted_feature(
    stack: LocalCloud, shift: str
) -> None:
    # Given a champion in service and the drift events forwarded to a queue
    inbox = drift_events(stack)
    feature, shifted = SHIFTS[shift]
    # When 600 rows arrive (fewer than MinNewRows) with one feature shifted
    upload(stack, "drifted.csv", csv_text([shifted(r) for r in records(600, seed=5)], SCHEMA.columns).encode())
    stack.run_until_idle(timeout=300)
    # Then a second run started, with trigger drift, naming that feature alone
    started = runs(stack)
    assert sorted(started) == ["run-000001", "run-000002"]
    run = started["run-000002"]
    assert run["trigger"] == "drift"
    assert run["new_rows"] == 600
    assert run["drift"]["features"] == [feature]
    assert run["drift"]["rows"] == 600
    # And its snapshot holds the whole report: every feature's index, the named one past the threshold
    report = read_json(stack, run["dataset"]["manifest_key"])["drift"]
    by_name = {f["name"]: f for f in report["features"]}
    assert sorted(by_name) == sorted(SCHEMA.layout.features)
    assert by_name[feature]["psi"] > 0.2 >= max(f["psi"] for name, f in by_name.items() if name != feature)
    assert report["baseline_run_id"] == "run-000001"
    # And "Data Drift Detected" was published once, for that run, with the same indexes
    [event] = messages(stack, inbox)
    assert event["detail"]["run_id"] == "run-000002"
    assert event["detail"]["drifted"] == [feature]
    assert {f["name"]: f["psi"] for f in event["detail"]["features"]} == {n: f["psi"] for n, f in by_name.items()}


def test_as_many_rows_from_the_training_distribution_start_no_run(stack: LocalCloud) -> None:
    # Given a champion in service
    # When 600 rows of the distribution it was trained on arrive
    upload(stack, "steady.csv", csv_text(records(600, seed=5), SCHEMA.columns).encode())
    stack.run_until_idle(timeout=300)
    # Then no run started, and the rows are counted as pending, in the histogram too
    assert sorted(runs(stack)) == ["run-000001"]
    ledger = Ledger(stack.outputs["StateTableName"], dynamodb=stack.client("dynamodb"))
    assert ledger.counter().pending_rows == 600
    baseline = champion_baseline(stack)
    assert ledger.pending_histogram(baseline.id, baseline.cells).rows == 600


def test_duplicated_deliveries_of_the_same_parts_do_not_change_the_histogram() -> None:
    # Given a champion, events delivered as AWS may (some twice, some late), and a MinDriftRows no test reaches
    with with_champion({"MinDriftRows": "100000"}, DELIVERIES["at-least-once"]) as cloud:
        # When three files arrive, one of them uploaded twice with the same bytes
        files = {name: records(200, seed=seed) for name, seed in (("a.csv", 21), ("b.csv", 22), ("c.csv", 23))}
        for name, rows in files.items():
            upload(cloud, name, csv_text(rows, SCHEMA.columns).encode())
        upload(cloud, "a.csv", csv_text(files["a.csv"], SCHEMA.columns).encode())
        cloud.run_until_idle(timeout=300)
        # Then the pending histogram counts each file's rows exactly once
        baseline = champion_baseline(cloud)
        expected = DriftCounter(baseline, SCHEMA.layout)
        for rows in files.values():
            expected.add(csv_text(rows, SCHEMA.layout.columns, header=False).splitlines())
        ledger = Ledger(cloud.outputs["StateTableName"], dynamodb=cloud.client("dynamodb"))
        pending = ledger.pending_histogram(baseline.id, baseline.cells)
        assert (pending.rows, pending.counts) == (600, expected.counts())
        assert ledger.counter().pending_rows == 600


def test_after_drift_the_challenger_wins_on_the_same_fresh_rows_though_the_champion_stored_more() -> None:
    # Given a champion, and runs that train on the newest 2,000 rows and score at most 200 test rows
    with with_champion({"MaxTrainingRows": "2000", "EvaluationMaxRows": "200"}) as cloud:
        # When 2,000 rows arrive from a recalibrated torque sensor, and drift starts a run on them
        torque, shifted = SHIFTS["scaled"]
        upload(cloud, "drifted.csv", csv_text([shifted(r) for r in records(2000, seed=5)], SCHEMA.columns).encode())
        cloud.run_until_idle(timeout=300)
        assert runs(cloud)["run-000002"]["drift"]["features"] == [torque]
        # Then the run trained on the drifted rows alone (the newest part)
        run = runs(cloud)["run-000002"]
        [part] = read_json(cloud, run["dataset"]["manifest_key"])["parts"]
        assert part["source_key"].endswith("drifted.csv")
        # And both models were scored on the same fresh test rows, all of that part's, where the champion degraded
        challenger, champion = model_packages(cloud)
        report = evaluation_report(cloud, challenger)
        assert report["test"]["manifest"].endswith("/run-000002/test.manifest")
        assert report["test"]["rows_scored"] == report["test"]["rows"] == part["channels"]["test"]["rows"] > 150
        assert report["champion"]["package_arn"] == champion["ModelPackageArn"]
        assert report["champion"]["value"] < report["objective"]["value"]
        # And the challenger is approved though the champion's stored metric, from older data, was higher
        assert report["champion"]["stored_value"] > report["objective"]["value"]
        assert challenger["ModelApprovalStatus"] == "Approved"
        assert report["reasons"] == []
        # And the challenger carries a baseline of its own, from the drifted rows it was trained on
        pointer = current_champion(cloud.outputs["StateTableName"], cloud.client("dynamodb"))
        assert pointer is not None
        assert pointer.package_arn == challenger["ModelPackageArn"]
        assert champion_baseline(cloud).run_id == "run-000002"


def test_the_schedule_claims_the_rows_counted_and_empties_their_histogram() -> None:
    # Given a champion, a schedule, and 100 steady rows counted (fewer than MinDriftRows: nothing measured)
    with with_champion({"RetrainSchedule": "rate(1 hour)"}) as cloud:
        upload(cloud, "few.csv", csv_text(records(100, seed=5), SCHEMA.columns).encode())
        cloud.run_until_idle(timeout=300)
        baseline = champion_baseline(cloud)
        ledger = Ledger(cloud.outputs["StateTableName"], dynamodb=cloud.client("dynamodb"))
        assert ledger.pending_histogram(baseline.id, baseline.cells).rows == 100
        # When the schedule fires (its function acting under its own role, as IAM enforces)
        cloud.advance(minutes=61)
        cloud.run_until_idle(timeout=300)
        # Then it started a run on those rows, and its claim emptied their histogram with them
        run = runs(cloud)["run-000002"]
        assert (run["trigger"], run["new_rows"]) == ("schedule", 100)
        assert ledger.pending_histogram(baseline.id, baseline.cells).rows == 0
