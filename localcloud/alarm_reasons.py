"""The reason and reason data CloudWatch writes when an alarm changes state, in its own words.

For example: "Threshold Crossed: 1 out of the last 1 datapoints [0.2 (26/11/26 11:03:00)] was
greater than the threshold (0.05) (minimum 1 datapoint for OK -> ALARM transition).", with reason
data {"version":"1.0","queryDate":...,"startDate":...,"period":60,"recentDatapoints":[0.2],
"threshold":0.05,"evaluatedDatapoints":[{"timestamp":...,"value":0.2}]}.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from localcloud.metric_statistics import utc


@dataclass(frozen=True)
class Datapoint:
    """One evaluated period: its start, and its value and sample count where it has them."""

    start: datetime
    value: float | None
    sample_count: float | None = None


def value(point: Datapoint) -> float:
    """The value of a datapoint known to have one."""
    assert point.value is not None
    return point.value


def unknown(count: int) -> str:
    """The reason for INSUFFICIENT_DATA: none of the ``count`` evaluated datapoints had a value."""
    return f"Insufficient Data: {_datapoints(count)} {_was(count)} unknown."


def _datapoints(count: int) -> str:
    return f"{count} datapoint{'' if count == 1 else 's'}"


def _was(count: int) -> str:
    return "was" if count == 1 else "were"


def _number(number: float) -> str:
    return repr(float(number))


def threshold_crossed(
    *,
    state: str,
    listed: list[Datapoint],
    missing: int,
    missing_as: str,
    evaluated: int,
    comparison: str,
    threshold: float,
    minimum: int,
) -> str:
    """CloudWatch's reason, e.g. "Threshold Crossed: 1 out of the last 1 datapoints [0.2 (26/11/26 11:03:00)] was
    greater than the threshold (0.05) (minimum 1 datapoint for OK -> ALARM transition)."."""
    transition = "OK -> ALARM" if state == "ALARM" else "ALARM -> OK"
    treated = (
        f"{_datapoints(missing).replace('datapoint', 'missing datapoint')} {_was(missing)} treated as [{missing_as}]"
    )
    if not listed and missing == evaluated:
        periods = f"{evaluated} period{'' if evaluated == 1 else 's'}"
        return f"Threshold Crossed: no datapoints were received for {periods} and {treated}."
    if not listed:
        return f"Threshold Crossed: {treated} (minimum {_datapoints(minimum)} for {transition} transition)."
    values = ", ".join(f"{_number(value(point))} ({point.start:%d/%m/%y %H:%M:%S})" for point in listed)
    negation = "" if state == "ALARM" else "not "
    sentence = (
        f"Threshold Crossed: {len(listed)} out of the last {evaluated} datapoints [{values}] {_was(len(listed))} "
        f"{negation}{comparison} the threshold ({_number(threshold)})"
    )
    if missing:
        sentence += f" and {treated}"
    return f"{sentence} (minimum {_datapoints(minimum)} for {transition} transition)."


def timestamp(moment: datetime) -> str:
    """A time as CloudWatch writes it in reason data and events: 2019-10-02T17:04:40.989+0000."""
    moment = utc(moment)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}+0000"


def reason_data(
    *,
    at: datetime,
    period: int,
    threshold: float,
    statistic: str | None,
    unit: str | None,
    present: list[Datapoint],
    evaluated: list[Datapoint],
) -> str:
    """CloudWatch's reason data (JSON): ``present`` datapoints had values, ``evaluated`` ones were weighed."""
    data: dict[str, Any] = {"version": "1.0", "queryDate": timestamp(at)}
    if evaluated:
        data["startDate"] = timestamp(evaluated[-1].start)
    if unit:
        data["unit"] = unit
    if statistic:
        data["statistic"] = statistic
    data["period"] = period
    data["recentDatapoints"] = [value(point) for point in reversed(present)]
    data["threshold"] = threshold
    if evaluated:
        data["evaluatedDatapoints"] = [_evaluated(point) for point in evaluated]
    return json.dumps(data, separators=(",", ":"))


def _evaluated(point: Datapoint) -> dict[str, Any]:
    shown: dict[str, Any] = {"timestamp": timestamp(point.start)}
    if point.sample_count is not None:
        shown["sampleCount"] = point.sample_count
    if point.value is not None:
        shown["value"] = point.value
    return shown
