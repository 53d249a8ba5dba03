"""Evaluation and gate: the challenger and the champion scored on the same fresh rows, each on its own columns.

Both models are scored on the run's held-out test rows (at most ``EvaluationMaxRows``, the first
of the test manifest's objects in order) with XGBoost's own objective metric (:mod:`scoring`
says how, and why in this function rather than a batch transform job). A model passes only if
its test metric clears ``MetricFloor`` AND does not regress from the champion's test metric on
the same rows by more than ``RegressionTolerance``. Only the floor applies when there is nothing
fair to compare with: an empty registry (the normal first run), or a champion whose label (name
or values) differs from the run's; the report says which. A run whose test channel is empty
(a tiny dataset) is gated on its training job's validation metric, and says so. The champion's
metric from its own training is still reported; no decision rests on it.

Beside the report goes the model's drift baseline (:mod:`baseline`), which the model package's
DriftCheckBaselines point at: ingestion measures incoming rows against the champion's.

The report written here is what the model package's ModelMetrics point at, and what the next
run reads the champion from: its training metrics (``metrics``) and the ``layout`` it was
trained on. A model that passes is registered Approved (``ApprovalMode`` automatic), which
starts its release, or PendingManualApproval (manual), which waits for a person; one that fails
is registered Rejected in both modes. A model whose columns differ from the champion's changes
what the endpoint and the devices must be sent, so its release waits for a person in both modes.
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import xgboost as xgb
from baseline import MAX_ROWS, fit_baseline
from pydantic import BaseModel, Field
from scoring import ChannelRows, load_model, read_rows, score

from conveyor import aws
from conveyor.errors import ConveyorError
from conveyor.registry import Champion, champion
from conveyor.schema import Layout
from conveyor.settings import Settings

REPORTS_PREFIX = "evaluations/"


class MetricNotFoundError(ConveyorError):
    """The training job did not report the objective metric."""


class EvaluateSettings(Settings):
    artifact_bucket_name: str
    model_package_group_name: str
    objective_metric: str
    objective_direction: Literal["Maximize", "Minimize"]
    metric_floor: float
    regression_tolerance: float
    approval_mode: Literal["automatic", "manual"] = "automatic"
    evaluation_max_rows: int = Field(default=200_000, gt=0)

    @property
    def metric(self) -> str:
        """XGBoost's name of the objective metric: ``auc`` of ``validation:auc``."""
        return self.objective_metric.rpartition(":")[2]


class FinalMetric(BaseModel):
    metric_name: str = Field(alias="MetricName")
    value: float = Field(alias="Value")


class TrainingResult(BaseModel):
    training_job_name: str = Field(alias="TrainingJobName")
    final_metric_data_list: list[FinalMetric] = Field(alias="FinalMetricDataList")
    model_data_url: str = Field(alias="ModelDataUrl")


class RunChannels(BaseModel):
    """What the evaluation needs of the run's channels ("Write channel manifests")."""

    train: str
    test: str
    rows: dict[str, int]
    layout: Layout


class EvaluationInput(BaseModel):
    run_id: str
    training: TrainingResult
    channels: RunChannels


class Measurement(BaseModel):
    """The metrics the gate decides on, and what was measured to get them."""

    value: float
    measured_on: Literal["test", "validation"]
    rows_scored: int
    champion_value: float | None = None
    notes: list[str] = []
    champion_columns_unknown: bool = False
    """The champion's report records no layout and its model takes another number of features."""


class Evaluation(BaseModel):
    decision: Literal["Approved", "Rejected"]
    approval_status: Literal["Approved", "PendingManualApproval", "Rejected"]
    reasons: list[str]
    notes: list[str]
    description: str
    metric_name: str
    metric_value: float
    measured_on: Literal["test", "validation"]
    rows_scored: int
    champion_package_arn: str | None
    champion_metric_value: float | None
    report_uri: str
    baseline_uri: str
    model_data_url: str
    metadata: dict[str, str]


def gate(
    settings: EvaluateSettings, value: float, champion_value: float | None, *, champion_stored: bool = False
) -> tuple[Literal["Approved", "Rejected"], list[str]]:
    """The decision and its reasons (empty when approved); ``champion_stored``: the champion's value is the
    one its own training stored, not a score on the same rows."""
    better: Callable[[float, float], bool] = operator.ge if settings.objective_direction == "Maximize" else operator.le
    sign = 1 if settings.objective_direction == "Maximize" else -1
    name = settings.objective_metric
    reasons = []
    if not better(value, settings.metric_floor):
        reasons.append(f"below floor: {name} {value:.4f} does not reach {settings.metric_floor:.4f}")
    if champion_value is not None and not better(value, champion_value - sign * settings.regression_tolerance):
        reasons.append(
            f"regression: {name} {value:.4f} against the champion's {champion_value:.4f} "
            f"{'stored' if champion_stored else 'on the same rows'} "
            f"(tolerance {settings.regression_tolerance:.4f})"
        )
    return ("Rejected" if reasons else "Approved"), reasons


def approval_status(
    settings: EvaluateSettings, decision: Literal["Approved", "Rejected"], *, needs_person: bool = False
) -> Literal["Approved", "PendingManualApproval", "Rejected"]:
    """The status the model package is registered with; ``needs_person`` holds an approved one for a person."""
    if decision == "Approved" and (settings.approval_mode == "manual" or needs_person):
        return "PendingManualApproval"
    return decision


def schema_change(champion_layout: Layout, layout: Layout) -> str | None:
    """What changed from the champion's columns to the run's, for a person to approve; None if nothing did.

    Metadata columns are never sent to a model: a change to them alone changes nothing here.
    """
    if champion_layout.label == layout.label and champion_layout.features == layout.features:
        return None
    changes = []
    if champion_layout.label != layout.label:
        old, new = champion_layout.label, layout.label
        changes.append(f"label {old.name} {old.values} is now {new.name} {new.values}")
    added = [name for name in layout.features if name not in champion_layout.features]
    removed = [name for name in champion_layout.features if name not in layout.features]
    if added:
        changes.append(f"added {', '.join(added)}")
    if removed:
        changes.append(f"removed {', '.join(removed)}")
    if not added and not removed and champion_layout.features != layout.features:
        changes.append("features reordered")
    return (
        f"the feature schema changed ({champion_layout.schema_name} {champion_layout.version} → "
        f"{layout.schema_name} {layout.version}): {'; '.join(changes)}"
    )


def measure(
    settings: EvaluateSettings, run: EvaluationInput, current: Champion | None, validation: float
) -> Measurement:
    """Score the challenger, and the champion where it is comparable, on the same test rows.

    Without a test score (no test rows; a metric XGBoost cannot compute on them, such as the AUC of
    rows of one class), the training job's validation metric is gated, against the champion's
    stored one: the best comparison left, and the report says so.
    """
    name = settings.metric
    rows: ChannelRows | None = None
    if run.channels.rows.get("test", 0) > 0:
        rows = read_rows(run.channels.test, run.channels.layout, settings.evaluation_max_rows)
    value = math.nan if rows is None or rows.count == 0 else _score(load_model(run.training.model_data_url), rows, name)
    if rows is None or math.isnan(value):
        why = "no test rows in this run" if rows is None or rows.count == 0 else f"{name} is undefined on the test rows"
        stored = current.metrics.get(settings.objective_metric) if current else None
        note = f"{why}: the training job's {settings.objective_metric} is gated" + (
            ", against the champion's stored one" if stored is not None else ""
        )
        return Measurement(
            value=validation, measured_on="validation", rows_scored=0, champion_value=stored, notes=[note]
        )
    measured = Measurement(value=value, measured_on="test", rows_scored=rows.count)
    if current is None:
        return measured
    layout = current.layout or run.channels.layout
    if layout.label != run.channels.layout.label:
        measured.notes.append(
            f"the champion predicts {layout.label.name} {layout.label.values}, this run "
            f"{run.channels.layout.label.name} {run.channels.layout.label.values}: "
            "they cannot be compared, only the floor applies"
        )
        return measured
    champion_model = load_model(current.model_data_url)
    if current.layout is None and champion_model.num_features() != len(layout.features):
        measured.champion_columns_unknown = True
        measured.notes.append(
            f"the champion's report records no columns and its model takes {champion_model.num_features()} "
            f"features, this run's {len(layout.features)}: they cannot be compared, only the floor applies"
        )
        return measured
    champion_value = _score(champion_model, rows, name, layout)
    measured.champion_value = None if math.isnan(champion_value) else champion_value
    return measured


def _score(model: Any, rows: ChannelRows, metric: str, layout: Layout | None = None) -> float:
    """``score`` of the model on the rows (in ``layout``'s columns if given); NaN where XGBoost has none."""
    features = rows.features if layout is None else rows.columns_for(layout)
    try:
        return score(model, features, rows.labels, metric)
    except xgb.core.XGBoostError:
        return math.nan


def _validation_metric(settings: EvaluateSettings, training: TrainingResult) -> float:
    metrics = {m.metric_name: m.value for m in training.final_metric_data_list}
    if settings.objective_metric not in metrics:
        raise MetricNotFoundError(
            f"training job {training.training_job_name} reported {sorted(metrics)}, "
            f"not the objective metric {settings.objective_metric}"
        )
    return metrics[settings.objective_metric]


def _description(settings: EvaluateSettings, decision: str, measured: Measurement, notes: list[str]) -> str:
    where = f"{measured.rows_scored} test rows" if measured.measured_on == "test" else "the validation channel"
    summary = f"{decision}: {settings.objective_metric} {measured.value:.4f} on {where}"
    if measured.champion_value is not None:
        # Without test rows the champion's value is the one its own training stored, not a score on these rows
        against = "on the same rows" if measured.measured_on == "test" else "stored"
        summary += f" (champion {measured.champion_value:.4f} {against})"
    return "; ".join([summary, *notes])[:1024]


def evaluate(settings: EvaluateSettings, run: EvaluationInput) -> Evaluation:
    """Decide on the run's model and write its evaluation report."""
    validation = _validation_metric(settings, run.training)
    current = champion(settings.state_table_name)
    measured = measure(settings, run, current, validation)
    stored = measured.measured_on == "validation"
    decision, reasons = gate(settings, measured.value, measured.champion_value, champion_stored=stored)
    change = schema_change(current.layout or run.channels.layout, run.channels.layout) if current else None
    if measured.champion_columns_unknown:
        change = "the champion's columns are not recorded and its model takes another number of features"
    notes = [*measured.notes]
    if change:
        notes.append(f"{change}; approve to release" if decision == "Approved" else change)
    status = approval_status(settings, decision, needs_person=change is not None)
    report_key = f"{REPORTS_PREFIX}{run.run_id}/evaluation.json"
    report = _report(settings, run, current, measured, validation) | {
        "decision": decision,
        "approval_status": status,
        "reasons": reasons,
        "notes": notes,
    }
    _put_json(settings, report_key, report)
    baseline_key = f"{REPORTS_PREFIX}{run.run_id}/baseline.json"
    train = read_rows(run.channels.train, run.channels.layout, MAX_ROWS, dtype=np.float64)
    _put_json(settings, baseline_key, fit_baseline(run.run_id, train).model_dump(mode="json"))
    return Evaluation(
        decision=decision,
        approval_status=status,
        reasons=reasons,
        notes=notes,
        description=_description(settings, decision, measured, reasons + notes),
        metric_name=settings.objective_metric,
        metric_value=measured.value,
        measured_on=measured.measured_on,
        rows_scored=measured.rows_scored,
        champion_package_arn=current.package_arn if current else None,
        champion_metric_value=measured.champion_value,
        report_uri=f"s3://{settings.artifact_bucket_name}/{report_key}",
        baseline_uri=f"s3://{settings.artifact_bucket_name}/{baseline_key}",
        model_data_url=run.training.model_data_url,
        metadata=_metadata(settings, run, measured, validation, decision),
    )


def _put_json(settings: EvaluateSettings, key: str, document: dict[str, Any]) -> None:
    aws.client("s3").put_object(
        Bucket=settings.artifact_bucket_name,
        Key=key,
        Body=json.dumps(document, indent=2).encode(),
        ContentType="application/json",
    )


def _report(
    settings: EvaluateSettings, run: EvaluationInput, current: Champion | None, measured: Measurement, validation: float
) -> dict[str, Any]:
    """The evaluation report, but for the decision: what was measured, on which rows, against which champion."""
    return {
        "run_id": run.run_id,
        "training_job_name": run.training.training_job_name,
        "metrics": {m.metric_name: m.value for m in run.training.final_metric_data_list},
        "layout": run.channels.layout.model_dump(mode="json"),
        "objective": {
            "name": settings.objective_metric,
            "direction": settings.objective_direction,
            "value": measured.value,
            "measured_on": measured.measured_on,
            "validation_value": validation,
        },
        "test": {
            "manifest": run.channels.test,
            "rows": run.channels.rows.get("test", 0),
            "rows_scored": measured.rows_scored,
            "max_rows": settings.evaluation_max_rows,
        },
        "champion": {
            "package_arn": current.package_arn,
            "value": measured.champion_value,
            "stored_value": current.metrics.get(settings.objective_metric),
            "layout": current.layout.model_dump(mode="json") if current.layout else None,
        }
        if current
        else None,
    }


def _metadata(
    settings: EvaluateSettings, run: EvaluationInput, measured: Measurement, validation: float, decision: str
) -> dict[str, str]:
    """The model package's CustomerMetadataProperties (strings only)."""
    metadata = {
        "run_id": run.run_id,
        "training_job_name": run.training.training_job_name,
        "objective_metric": settings.objective_metric,
        "objective_value": f"{measured.value:.6f}",
        "measured_on": measured.measured_on,
        "rows_scored": str(measured.rows_scored),
        "validation_value": f"{validation:.6f}",
        "decision": decision,
        "schema_name": run.channels.layout.schema_name,
        "schema_version": run.channels.layout.version,
    }
    if measured.champion_value is not None:
        metadata["champion_value"] = f"{measured.champion_value:.6f}"
    return metadata
