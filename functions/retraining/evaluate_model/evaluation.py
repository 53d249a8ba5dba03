"""Evaluation and gate: the challenger's objective metric against a floor and against the champion.

A model passes only if its metric clears ``MetricFloor`` AND it does not regress from the
champion's by more than ``RegressionTolerance``. An empty registry is the normal first run: only
the floor applies. The report written here is what the model package's ModelMetrics point at.

A model that passes is registered Approved (``ApprovalMode`` automatic), which starts its release,
or PendingManualApproval (manual), which waits for a person; one that fails is registered Rejected
in both modes.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, Field

from conveyor import aws
from conveyor.errors import ConveyorError
from conveyor.registry import Champion, champion
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


class FinalMetric(BaseModel):
    metric_name: str = Field(alias="MetricName")
    value: float = Field(alias="Value")


class TrainingResult(BaseModel):
    training_job_name: str = Field(alias="TrainingJobName")
    final_metric_data_list: list[FinalMetric] = Field(alias="FinalMetricDataList")
    model_data_url: str = Field(alias="ModelDataUrl")


class EvaluationInput(BaseModel):
    run_id: str
    training: TrainingResult


class Evaluation(BaseModel):
    decision: Literal["Approved", "Rejected"]
    approval_status: Literal["Approved", "PendingManualApproval", "Rejected"]
    reasons: list[str]
    description: str
    metric_name: str
    metric_value: float
    champion_package_arn: str | None
    champion_metric_value: float | None
    report_uri: str
    model_data_url: str
    metadata: dict[str, str]


def gate(
    settings: EvaluateSettings, value: float, champion_value: float | None
) -> tuple[Literal["Approved", "Rejected"], list[str]]:
    """The decision and its reasons (empty when approved)."""
    better: Callable[[float, float], bool] = operator.ge if settings.objective_direction == "Maximize" else operator.le
    sign = 1 if settings.objective_direction == "Maximize" else -1
    name = settings.objective_metric
    reasons = []
    if not better(value, settings.metric_floor):
        reasons.append(f"below floor: {name} {value:.4f} does not reach {settings.metric_floor:.4f}")
    if champion_value is not None and not better(value, champion_value - sign * settings.regression_tolerance):
        reasons.append(
            f"regression: {name} {value:.4f} against the champion's {champion_value:.4f} "
            f"(tolerance {settings.regression_tolerance:.4f})"
        )
    return ("Rejected" if reasons else "Approved"), reasons


def approval_status(
    settings: EvaluateSettings, decision: Literal["Approved", "Rejected"]
) -> Literal["Approved", "PendingManualApproval", "Rejected"]:
    """The status the model package is registered with."""
    if decision == "Approved" and settings.approval_mode == "manual":
        return "PendingManualApproval"
    return decision


def evaluate(settings: EvaluateSettings, run: EvaluationInput) -> Evaluation:
    """Decide on the run's model and write its evaluation report."""
    metrics = {m.metric_name: m.value for m in run.training.final_metric_data_list}
    if settings.objective_metric not in metrics:
        raise MetricNotFoundError(
            f"training job {run.training.training_job_name} reported {sorted(metrics)}, "
            f"not the objective metric {settings.objective_metric}"
        )
    value = metrics[settings.objective_metric]
    current: Champion | None = champion(settings.state_table_name)
    champion_value = current.metrics.get(settings.objective_metric) if current else None
    decision, reasons = gate(settings, value, champion_value)
    report_key = f"{REPORTS_PREFIX}{run.run_id}/evaluation.json"
    report = {
        "run_id": run.run_id,
        "training_job_name": run.training.training_job_name,
        "metrics": metrics,
        "objective": {"name": settings.objective_metric, "direction": settings.objective_direction, "value": value},
        "decision": decision,
        "reasons": reasons,
        "champion": {"package_arn": current.package_arn, "value": champion_value} if current else None,
    }
    aws.client("s3").put_object(
        Bucket=settings.artifact_bucket_name,
        Key=report_key,
        Body=json.dumps(report, indent=2).encode(),
        ContentType="application/json",
    )
    summary = f"{settings.objective_metric} {value:.4f}"
    description = f"{decision}: {summary}" + (f"; {'; '.join(reasons)}" if reasons else "")
    return Evaluation(
        decision=decision,
        approval_status=approval_status(settings, decision),
        reasons=reasons,
        description=description[:1024],
        metric_name=settings.objective_metric,
        metric_value=value,
        champion_package_arn=current.package_arn if current else None,
        champion_metric_value=champion_value,
        report_uri=f"s3://{settings.artifact_bucket_name}/{report_key}",
        model_data_url=run.training.model_data_url,
        metadata={
            "run_id": run.run_id,
            "training_job_name": run.training.training_job_name,
            "objective_metric": settings.objective_metric,
            "objective_value": f"{value:.6f}",
            "decision": decision,
        },
    )
