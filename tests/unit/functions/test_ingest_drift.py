"""Upload ingestion's drift: rows counted into the champion's baseline, measured, and a run started early.

Everything in moto: the data bucket and the ledger (``data_bucket``), a retraining state machine,
and a champion whose model package points at a baseline fitted (by the evaluation's own code) on
generated training rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import numpy as np
import pytest
from baseline import fit_baseline
from ingestion import IngestResult, IngestSettings, ingest
from scoring import ChannelRows

from conveyor import drift
from conveyor.drift import Baseline, DriftCounter, DriftReport, FeatureBaseline
from conveyor.errors import ConfigurationError
from conveyor.events import S3Object
from conveyor.state.champion import ChampionPointer, set_champion
from conveyor.state.control import set_frozen
from conveyor.state.ledger import MAX_DRIFT_CELLS, Histogram, Ledger
from conveyor_tools.synthetic import Record, csv_text, records
from localcloud.template import load_sam_template
from tests.conftest import TEMPLATE
from tests.unit.functions.test_ingest_writes import SCHEMA, data_bucket

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ARTIFACTS = "artifacts"
GROUP = "conveyor-test-models"
BASELINE_KEY = "evaluations/run-000001/baseline.json"
# Ingestion's environment as the template sets it, but for the drift variables
ENVIRONMENT = {
    "PROJECT_NAME": "conveyor",
    "STAGE": "dev",
    "CONVEYOR_VERSION": "0",
    "STATE_TABLE_NAME": "state",
    "DATA_BUCKET_NAME": "data",
    "FEATURE_SCHEMA": "predictive_maintenance",
    "RETRAINING_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:retraining",
    "MIN_NEW_ROWS": "1000",
    "MAX_FILE_BYTES": "1000",
    "MAX_FILE_ROWS": "10",
    "ROW_ERROR_POLICY": "reject-file",
    "VALIDATION_PERCENT": "20",
    "TEST_PERCENT": "10",
}


def scaled_torque(rows: list[Record]) -> list[Record]:
    """A recalibrated torque sensor: every reading 1.6 times what it was."""
    return [row | {"torque_nm": round(float(row["torque_nm"]) * 1.6, 1)} for row in rows]


def training_baseline() -> Baseline:
    """The baseline of 3,000 generated training rows, as the evaluation fits it."""
    columns = SCHEMA.layout.columns
    matrix = np.array([[row[c] for c in columns] for row in records(3000, seed=2)], dtype=np.float64)
    return fit_baseline("run-000001", ChannelRows(layout=SCHEMA.layout, labels=matrix[:, 0], features=matrix[:, 1:]))


class Stack:
    """The data bucket, the ledger and a retraining state machine, with a champion once ``crown`` is called."""

    def __init__(self, s3: Any, ledger: Ledger, settings: IngestSettings) -> None:
        self.s3 = s3
        self.ledger = ledger
        definition = {"StartAt": "Train model", "States": {"Train model": {"Type": "Succeed"}}}
        self.sfn = boto3.client("stepfunctions")
        arn = self.sfn.create_state_machine(
            name="retraining", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/retraining"
        )["stateMachineArn"]
        self.settings = settings.model_copy(update={"retraining_state_machine_arn": arn, "min_new_rows": 3000})
        self.uploads = 0

    def crown(self, baseline: Baseline | None) -> None:
        """Make a model package the champion, pointing at ``baseline`` (None: a package from before baselines)."""
        sagemaker = boto3.client("sagemaker")
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        extra: dict[str, Any] = {}
        if baseline is not None:
            self.s3.create_bucket(Bucket=ARTIFACTS)
            self.s3.put_object(Bucket=ARTIFACTS, Key=BASELINE_KEY, Body=baseline.model_dump_json().encode())
            uri = f"s3://{ARTIFACTS}/{BASELINE_KEY}"
            statistics = {"ContentType": "application/json", "S3Uri": uri}
            extra["DriftCheckBaselines"] = {"ModelDataQuality": {"Statistics": statistics}}
        arn = sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            ModelApprovalStatus="Approved",
            InferenceSpecification={
                "Containers": [{"Image": "xgboost", "ModelDataUrl": f"s3://{ARTIFACTS}/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            **extra,
        )["ModelPackageArn"]
        set_champion(self.ledger.table_name, ChampionPointer(package_arn=arn, version=1, promoted_at=NOW))

    def arrive(self, body: str, **settings: Any) -> IngestResult:
        """Upload ``body`` as a new file and deliver its Object Created event to ingestion."""
        self.uploads += 1
        key = f"incoming/uploads/file-{self.uploads}.csv"
        version = self.s3.put_object(Bucket="data", Key=key, Body=body.encode())["VersionId"]
        upload = S3Object.model_validate({"key": key, "size": len(body.encode()), "version-id": version})
        return ingest(self.settings.model_copy(update=settings), SCHEMA, self.ledger, upload, NOW)

    def drift_events(self) -> str:
        """A queue the default bus forwards "Data Drift Detected" to: its URL."""
        sqs = boto3.client("sqs")
        queue: str = sqs.create_queue(QueueName="drift")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events = boto3.client("events")
        events.put_rule(Name="drift", EventPattern=json.dumps({"detail-type": ["Data Drift Detected"]}))
        events.put_targets(Rule="drift", Targets=[{"Id": "q", "Arn": arn}])
        return queue

    def histogram(self, baseline: Baseline) -> Histogram:
        return self.ledger.pending_histogram(baseline.id, baseline.cells)

    def executions(self) -> list[dict[str, Any]]:
        [machine] = self.sfn.list_state_machines()["stateMachines"]
        listed = self.sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
        return [self.sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]


@pytest.fixture
def stack() -> Iterator[Stack]:
    with data_bucket(SCHEMA.name, min_new_rows=3000) as (s3, ledger, settings):
        yield Stack(s3, ledger, settings)


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    return training_baseline()


def counted(baseline: Baseline, rows: list[Record]) -> list[int]:
    """The cells ``rows`` fill in ``baseline``, counted directly."""
    counter = DriftCounter(baseline, SCHEMA.layout)
    counter.add(csv_text(rows, SCHEMA.layout.columns, header=False).splitlines())
    return counter.counts()


def test_accepted_rows_are_counted_into_the_champions_cells_and_a_file_set_aside_adds_none(
    stack: Stack, baseline: Baseline
) -> None:
    # Given a champion with a baseline
    stack.crown(baseline)
    rows = records(300, seed=5)
    # When a good file of 300 rows arrives, then a file with a bad row (set aside whole)
    first = stack.arrive(csv_text(rows, SCHEMA.columns))
    bad = records(40, seed=6)
    bad[7] = bad[7] | {"torque_nm": -3}
    second = stack.arrive(csv_text(bad, SCHEMA.columns))
    # Then the pending histogram holds the good file's rows, in the cells they fall in, and nothing of the other
    assert (first.outcome, second.outcome) == ("accepted", "quarantined")
    assert stack.histogram(baseline) == Histogram(baseline_id=baseline.id, rows=300, counts=counted(baseline, rows))
    # And, with fewer than MinDriftRows counted, no drift is measured
    assert first.drift is None
    assert second.drift is None


def test_without_a_champion_no_row_is_counted_and_ingestion_goes_on(stack: Stack, baseline: Baseline) -> None:
    # Given an empty registry: no champion
    # When drifted rows arrive, more than MinDriftRows of them
    result = stack.arrive(csv_text(scaled_torque(records(600, seed=5)), SCHEMA.columns))
    # Then they are accepted, nothing is measured, no histogram is kept and no run starts
    assert (result.outcome, result.rows_accepted, result.drift, result.started_runs) == ("accepted", 600, None, [])
    assert stack.histogram(baseline).rows == 0
    assert stack.ledger.counter().pending_rows == 600


def test_a_champion_registered_without_a_baseline_is_not_measured_against(stack: Stack, baseline: Baseline) -> None:
    # Given a champion whose package has no drift baseline (registered before baselines were)
    stack.crown(None)
    # When drifted rows arrive
    result = stack.arrive(csv_text(scaled_torque(records(600, seed=5)), SCHEMA.columns))
    # Then they are accepted, and nothing is measured or started
    assert (result.outcome, result.drift, result.started_runs) == ("accepted", None, [])
    assert stack.histogram(baseline).rows == 0


def test_drift_is_measured_from_min_drift_rows_on(stack: Stack, baseline: Baseline) -> None:
    # Given a champion, and MinDriftRows of 500
    stack.crown(baseline)
    rows = records(500, seed=5)
    # When 499 steady rows arrive, then one more
    below = stack.arrive(csv_text(rows[:499], SCHEMA.columns), min_drift_rows=500)
    at = stack.arrive(csv_text(rows[499:], SCHEMA.columns), min_drift_rows=500)
    # Then drift is first measured at the 500th row, on all 500, and finds none
    assert below.drift is None
    assert at.drift is not None
    assert (at.drift.rows, at.drift.baseline_id, at.drift.drifted) == (500, baseline.id, [])
    assert at.drift == drift.measure(baseline, 500, counted(baseline, rows), stack.settings.drift_threshold)
    assert at.started_runs == []


def test_drifted_rows_start_a_drift_run_that_carries_the_report_and_empties_the_histogram(
    stack: Stack, baseline: Baseline
) -> None:
    # Given a champion, and "Data Drift Detected" events forwarded to a queue
    stack.crown(baseline)
    sqs, queue = boto3.client("sqs"), stack.drift_events()
    # When 600 rows with the torque scaled arrive (fewer than MinNewRows)
    result = stack.arrive(csv_text(scaled_torque(records(600, seed=5)), SCHEMA.columns))
    # Then a run starts, with trigger drift, claiming the 600 rows
    assert result.drift is not None
    assert result.drift.drifted == ["torque_nm"]
    assert result.started_runs == ["run-000001"]
    run = stack.ledger.run("run-000001")
    assert run is not None
    assert (run.status, run.trigger, run.rows) == ("STARTED", "drift", 600)
    assert run.drift is not None
    assert DriftReport.model_validate_json(run.drift) == result.drift
    # And the workflow's input sums the report up, and its snapshot holds it whole
    [execution] = stack.executions()
    started = json.loads(execution["input"])
    assert (started["trigger"], started["new_rows"]) == ("drift", 600)
    assert started["drift"] == {"features": ["torque_nm"], "max_psi": result.drift.max_psi, "rows": 600}
    snapshot = json.loads(stack.s3.get_object(Bucket="data", Key=started["dataset"]["manifest_key"])["Body"].read())
    assert snapshot["drift"] == result.drift.model_dump(mode="json")
    # And the event says which run, and every feature's index
    [message] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    event = json.loads(message["Body"])
    assert (event["source"], event["detail"]["run_id"], event["detail"]["drifted"]) == (
        "conveyor",
        "run-000001",
        ["torque_nm"],
    )
    assert {f["name"]: f["psi"] for f in event["detail"]["features"]} == {f.name: f.psi for f in result.drift.features}
    assert event["detail"]["label_psi"] == result.drift.label.psi
    # And the claim emptied the histogram with the pending rows
    assert stack.histogram(baseline).rows == 0
    assert stack.ledger.counter().pending_rows == 0


def test_an_index_equal_to_the_threshold_starts_no_run(stack: Stack, baseline: Baseline) -> None:
    # Given a champion, and the index 600 drifted rows will have
    stack.crown(baseline)
    rows = scaled_torque(records(600, seed=5))
    report = drift.measure(baseline, 600, counted(baseline, rows), 0.2)
    # When they arrive with DriftThreshold exactly that index
    result = stack.arrive(csv_text(rows, SCHEMA.columns), drift_threshold=report.max_psi)
    # Then drift is measured but starts nothing: the index must exceed the threshold
    assert result.drift is not None
    assert (result.drift.max_psi, result.drift.drifted, result.started_runs) == (report.max_psi, [], [])


def test_a_frozen_stack_measures_drift_but_starts_no_run(stack: Stack, baseline: Baseline) -> None:
    # Given a champion, and releases frozen by a finding
    stack.crown(baseline)
    set_frozen(stack.ledger.table_name, frozen=True, reason="a test froze releases", now=NOW)
    # When drifted rows arrive
    result = stack.arrive(csv_text(scaled_torque(records(600, seed=5)), SCHEMA.columns))
    # Then the drift is found, but no run is claimed or started, and the rows stay pending
    assert result.drift is not None
    assert result.drift.drifted == ["torque_nm"]
    assert result.started_runs == []
    assert stack.executions() == []
    assert stack.histogram(baseline).rows == 600


def test_a_large_file_has_an_even_sample_of_its_rows_counted(
    stack: Stack, baseline: Baseline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a champion, and files over twice SAMPLE_BYTES sampled (made small here)
    stack.crown(baseline)
    monkeypatch.setattr(drift, "SAMPLE_BYTES", 1000)
    rows = records(700, seed=5)
    body = csv_text(rows, SCHEMA.columns)
    every = len(body.encode()) // 1000
    # When the file arrives
    result = stack.arrive(body)
    # Then every row is accepted, and every ``every``-th one, from the first, is counted for ``every`` rows
    assert result.rows_accepted == 700
    assert every > 1
    sample = rows[::every]
    assert stack.histogram(baseline) == Histogram(
        baseline_id=baseline.id,
        rows=len(sample) * every,
        counts=[count * every for count in counted(baseline, sample)],
    )


def test_a_sampled_file_weighs_as_many_rows_as_it_has_beside_a_file_counted_whole(
    stack: Stack, baseline: Baseline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a champion, files over twice SAMPLE_BYTES sampled (made small here)
    stack.crown(baseline)
    monkeypatch.setattr(drift, "SAMPLE_BYTES", 2000)
    # When a large file of drifted rows arrives, then a small one of steady rows
    stack.arrive(csv_text(scaled_torque(records(600, seed=5)), SCHEMA.columns))
    stack.arrive(csv_text(records(20, seed=6), SCHEMA.columns))
    # Then the histogram's rows are about those that arrived, the large file's in proportion
    pending = stack.histogram(baseline)
    assert 600 <= pending.rows - 20 < 600 + 600 // 10


def test_the_functions_drift_defaults_are_the_templates() -> None:
    # Given ingestion's settings with neither drift variable set, and the template's parameters
    settings = IngestSettings.from_env(ENVIRONMENT)
    parameters = load_sam_template(TEMPLATE)["Parameters"]
    # Then its defaults are the parameters' defaults
    assert settings.min_drift_rows == parameters["MinDriftRows"]["Default"]
    assert settings.drift_threshold == float(parameters["DriftThreshold"]["Default"])


@pytest.mark.parametrize(
    ("variables", "accepted"),
    [
        ({"MIN_DRIFT_ROWS": "1"}, True),
        ({"MIN_DRIFT_ROWS": "0"}, False),
        ({"DRIFT_THRESHOLD": "0.05"}, True),
        ({"DRIFT_THRESHOLD": "0"}, False),
    ],
)
def test_min_drift_rows_is_at_least_one_and_the_threshold_positive(variables: dict[str, str], accepted: bool) -> None:
    environment = ENVIRONMENT | variables
    if accepted:
        settings = IngestSettings.from_env(environment)
        assert {"MIN_DRIFT_ROWS": str(settings.min_drift_rows), "DRIFT_THRESHOLD": str(settings.drift_threshold)}[
            next(iter(variables))
        ] == next(iter(variables.values()))
    else:
        with pytest.raises(ConfigurationError, match=next(iter(variables))):
            IngestSettings.from_env(environment)


def test_a_drift_run_claimed_before_a_crash_is_announced_when_it_starts(stack: Stack, baseline: Baseline) -> None:
    # Given a drift run claimed by an ingestion that crashed before it started the run
    stack.crown(baseline)
    rows = scaled_torque(records(600, seed=5))
    stack.arrive(csv_text(rows, SCHEMA.columns), min_new_rows=10**6, min_drift_rows=10**6)
    report = drift.measure(baseline, 600, counted(baseline, rows), 0.2)
    assert stack.ledger.claim_run(600, "drift", NOW, drift=report.model_dump_json()) is not None
    sqs, queue = boto3.client("sqs"), stack.drift_events()
    # When the next file's ingestion starts every claimed run
    result = stack.arrive(csv_text(records(5, seed=9), SCHEMA.columns), min_new_rows=10**6)
    # Then the drift run starts, and "Data Drift Detected" is published for it then
    assert result.started_runs == ["run-000001"]
    [message] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(message["Body"])["detail"]["run_id"] == "run-000001"


def test_a_champion_baseline_too_wide_for_a_parts_transaction_is_not_counted_and_ingestion_goes_on(
    stack: Stack,
) -> None:
    # Given a champion whose baseline has more cells than a part's transaction can carry
    cells = MAX_DRIFT_CELLS
    wide = FeatureBaseline(name="torque_nm", edges=[float(edge) for edge in range(cells)], shares=[1 / cells] * cells)
    baseline = training_baseline().model_copy(update={"features": [wide]})
    assert baseline.cells > MAX_DRIFT_CELLS
    stack.crown(baseline)
    # When rows arrive
    result = stack.arrive(csv_text(records(600, seed=5), SCHEMA.columns))
    # Then they are accepted, and nothing is counted or measured
    assert (result.outcome, result.rows_accepted, result.drift) == ("accepted", 600, None)
    assert stack.histogram(baseline).rows == 0
