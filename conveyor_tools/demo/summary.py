"""The demo's summary (build/demo/summary.json) as typed records: what the report reads.

The demo writes plain JSON; the report parses it here once, so its plots and tables never dig
through dicts. Keys the report does not show (dataset, runs, deliveries...) are ignored; every
list may be empty, and so may a timeline. Outcomes the demo may extend (an edge release's) are
plain strings; names AWS fixes (an alarm's state) and the gate's decisions are literals.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

Decision = Literal["Approved", "Rejected"]
AlarmState = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]


class Step(BaseModel):
    number: int
    title: str
    outcome: str
    ok: bool
    seconds: float


class Execution(BaseModel):
    name: str
    workflow: str
    """The workflow's ASL file name: retraining, canary_release or edge_release."""
    status: str


class ModelResult(BaseModel):
    """A model package and the gate's decision on it."""

    package: str
    version: int
    run_id: str
    metric: str
    """The objective metric's name, e.g. ``validation:auc``."""
    value: float
    champion_value: float | None = None
    """The champion's score on the same test rows; None when there was no champion."""
    floor: float
    decision: Decision
    reasons: list[str] = []


class CanaryPoint(BaseModel):
    seconds: float
    """Stack seconds since the canary began."""
    weights: dict[str, float]
    """Each production variant's weight, relative to the others'."""
    alarm: AlarmState


class Canary(BaseModel):
    package_version: int
    variant: str
    outcome: Literal["first", "promoted", "rolled_back"]
    """``first``: the endpoint's first model, with no champion beside it to judge against."""
    alarm_to_weight_zero_seconds: float | None = None
    timeline: list[CanaryPoint] = []


class FleetPoint(BaseModel):
    seconds: float
    """Stack seconds since the release began."""
    devices: dict[str, int]
    """Devices per state: Greengrass lifecycle states, and NONE for a device without the component."""


class EdgeRelease(BaseModel):
    package_version: int
    component_version: str
    status: str
    outcome: str
    devices: dict[str, int] = {}
    timeline: list[FleetPoint] = []


class DriftRun(BaseModel):
    run_id: str
    features: list[str]
    """The features that drifted."""
    max_psi: float
    rows: int
    threshold: float
    psi: dict[str, float]
    decision: Decision


class Finding(BaseModel):
    finding_id: str
    kind: str
    title: str
    actor: str
    remediated: list[str] = []
    frozen: bool
    unfrozen_by: str | None = None
    reason: str | None = None


class DemoSummary(BaseModel):
    stack: str
    version: str
    health: str
    seconds: float
    steps: list[Step] = []
    executions: list[Execution] = []
    models: list[ModelResult] = []
    canary: list[Canary] = []
    edge: list[EdgeRelease] = []
    drift: list[DriftRun] = []
    findings: list[Finding] = []
