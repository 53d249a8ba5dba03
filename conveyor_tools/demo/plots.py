"""The demo report's plots, each a PNG (bytes) drawn by matplotlib on its Agg canvas.

Figures are built with matplotlib's object API (a ``Figure`` given its own ``FigureCanvasAgg``),
not pyplot: no backend is switched for the process (no ``matplotlib.use``), no rcParams change,
and no figure outlives its call, so a demo that draws dozens leaks none.

Timelines are samples of a state that holds until the next sample: they are drawn as steps, and
the last sample is held for a short span past its time so the final state (a weight of 0 after a
rollback, the fleet once rolled out) shows as an area, not as a line of no width.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from conveyor_tools.demo.summary import Canary, DriftRun, EdgeRelease, ModelResult

DECISION_STYLE = {"Approved": ("tab:green", "o"), "Rejected": ("tab:red", "X")}
"""Each gate decision's colour and marker."""
ALARM_COLOURS = {"OK": "#74c476", "ALARM": "#d62728", "INSUFFICIENT_DATA": "#bdbdbd"}
DEVICE_STATE_COLOURS = {
    "NONE": "#d9d9d9",
    "NEW": "#c6dbef",
    "INSTALLED": "#6baed6",
    "STARTING": "#fdd0a2",
    "RUNNING": "#31a354",
    "STOPPING": "#fdae6b",
    "FINISHED": "#9e9ac8",
    "ERRORED": "#fb6a4a",
    "BROKEN": "#a50f15",
}
"""Greengrass lifecycle states in the order a deployment moves through them; others follow, in other colours."""
OTHER_COLOURS = ["#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#1f77b4", "#ff7f0e", "#9467bd"]
CANARY_OUTCOMES = {
    "first": "first release, nothing to judge against",
    "promoted": "promoted",
    "rolled_back": "rolled back",
}
HOLD_FRACTION = 0.06
"""How long the last sample is held, as a part of the timeline's span (or 1 s for a single sample)."""
WIDTH, HEIGHT = 8.0, 4.2
"""Each figure's size in inches (at 100 dpi, 800 x 420 pixels)."""


def png(figure: Figure) -> bytes:
    """The figure as PNG bytes, drawn by the Agg canvas it is given here."""
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def models_plot(models: Sequence[ModelResult]) -> bytes:
    """Each model's objective metric by version, its decision by colour and marker, the champion's
    score on the same rows beside it, and the floor."""
    figure = Figure(figsize=(WIDTH, HEIGHT), layout="constrained")
    axes = figure.add_subplot()
    for decision, (colour, marker) in DECISION_STYLE.items():
        chosen = [x for x, m in enumerate(models) if m.decision == decision]
        if chosen:
            values = [models[x].value for x in chosen]
            axes.scatter(chosen, values, s=90, color=colour, marker=marker, zorder=3, label=decision)
    beside = [(x, m.value, m.champion_value) for x, m in enumerate(models) if m.champion_value is not None]
    for x, value, champion in beside:
        axes.plot([x, x + 0.2], [value, champion], color="grey", linewidth=0.8, zorder=2)
    if beside:
        champions = [champion for _, _, champion in beside]
        label = "champion, same test rows"
        axes.scatter([x + 0.2 for x, _, _ in beside], champions, s=50, color="grey", marker="D", zorder=3, label=label)
    for x, model in enumerate(models):
        axes.annotate(f"{model.value:.3f}", (x, model.value), textcoords="offset points", xytext=(-8, 8), ha="right")
    xs = range(len(models))
    floors = [m.floor for m in models]
    axes.hlines(
        floors, [x - 0.4 for x in xs], [x + 0.4 for x in xs], colors="black", linestyles="dashed", label="floor"
    )
    axes.set_xticks(range(len(models)), [f"v{m.version}\n{m.run_id}" for m in models])
    axes.set_xlim(-0.6, len(models) - 0.4)
    axes.margins(y=0.15)
    axes.set_xlabel("model package version / run id")
    axes.set_ylabel(" / ".join(dict.fromkeys(m.metric for m in models)))
    axes.set_title("Models: objective metric, the floor, and the champion on the same rows")
    axes.legend(loc="best")
    return png(figure)


def canary_plot(canary: Canary) -> bytes:
    """Each variant's share of the traffic over the canary (stacked steps) above its alarm's state."""
    points = canary.timeline
    times = held_times([p.seconds for p in points])
    variants = list(dict.fromkeys(name for p in points for name in p.weights))
    shares = [held([share(p.weights, variant) for p in points]) for variant in variants]
    figure = Figure(figsize=(WIDTH, HEIGHT + 0.6), layout="constrained")
    traffic, alarm = figure.subplots(2, 1, sharex=True, height_ratios=[5, 1])
    traffic.stackplot(times, shares, labels=variants, step="post", alpha=0.85)
    segments = spans([p.alarm for p in points], times)
    for state, start, end in segments:
        alarm.broken_barh([(start, end - start)], (0, 1), color=ALARM_COLOURS[state])
        if state == "ALARM":
            traffic.axvspan(start, end, color=ALARM_COLOURS["ALARM"], alpha=0.15, hatch="//", linewidth=0)
    if canary.alarm_to_weight_zero_seconds is not None:
        alarmed = next((start for state, start, _ in segments if state == "ALARM"), times[0])
        mark_rollback(traffic, alarmed, canary.alarm_to_weight_zero_seconds)
    traffic.set_ylim(0, 1)
    traffic.set_ylabel("share of traffic")
    traffic.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small", title="variant")
    outcome = CANARY_OUTCOMES[canary.outcome]
    if canary.alarm_to_weight_zero_seconds is not None:
        outcome += f": its weight was 0 {canary.alarm_to_weight_zero_seconds:g} s after the alarm"
    traffic.set_title(f"Canary of package {canary.package_version} (variant {canary.variant}): {outcome}")
    present = dict.fromkeys(state for state, _, _ in segments)
    alarm.legend(
        handles=[Patch(color=ALARM_COLOURS[s], label=s) for s in present],
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        fontsize="small",
        title="alarm",
    )
    alarm.set_yticks([])
    alarm.set_ylabel("alarm")
    alarm.set_xlabel("seconds since the canary began")
    return png(figure)


def mark_rollback(axes: Axes, alarmed: float, seconds: float) -> None:
    """An arrow from the alarm to the canary's weight reaching 0, with its length in seconds."""
    axes.annotate(
        "", xy=(alarmed + seconds, 0.5), xytext=(alarmed, 0.5), arrowprops={"arrowstyle": "<->", "linewidth": 1.5}
    )
    axes.annotate(
        f"alarm to weight 0: {seconds:g} s",
        (alarmed + seconds / 2, 0.5),
        textcoords="offset points",
        xytext=(0, 6),
        ha="center",
        fontweight="bold",
    )


def fleet_plot(release: EdgeRelease) -> bytes:
    """The fleet's devices per state over the rollout, stacked steps."""
    points = release.timeline
    states = device_states(state for p in points for state in p.devices)
    counts = [held([p.devices.get(state, 0) for p in points]) for state in states]
    figure = Figure(figsize=(WIDTH, HEIGHT), layout="constrained")
    axes = figure.add_subplot()
    axes.stackplot(
        held_times([p.seconds for p in points]),
        counts,
        labels=states,
        colors=state_colours(states),
        step="post",
    )
    axes.set_ylim(0, max(sum(p.devices.values()) for p in points) or 1)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("seconds since the release began")
    axes.set_ylabel("devices")
    axes.set_title(
        f"Edge release of component {release.component_version} (package {release.package_version}): {release.outcome}"
    )
    axes.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small", title="state")
    return png(figure)


def drift_plot(run: DriftRun) -> bytes:
    """PSI per feature against the threshold, the drifted features in red."""
    features = list(run.psi)
    drifted = set(run.features)
    colours = ["tab:red" if f in drifted else "tab:grey" for f in features]
    figure = Figure(figsize=(WIDTH, max(HEIGHT, 1.2 + 0.4 * len(features))), layout="constrained")
    axes = figure.add_subplot()
    axes.barh(features, [run.psi[f] for f in features], color=colours)
    for y, feature in enumerate(features):
        axes.annotate(
            f"{run.psi[feature]:.3g}",
            (run.psi[feature], y),
            textcoords="offset points",
            xytext=(6, 0),
            va="center",
            bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"},
        )
    axes.axvline(run.threshold, color="black", linestyle="dashed", zorder=1)
    axes.invert_yaxis()
    axes.margins(x=0.12)
    axes.set_xlabel("PSI (population stability index)")
    axes.set_ylabel("feature")
    axes.set_title(f"Drift in {run.run_id}: {len(drifted)} of {len(features)} features over {run.rows} rows")
    axes.legend(
        handles=[
            Patch(color="tab:red", label="drifted"),
            Patch(color="tab:grey", label="within threshold"),
            axes.lines[-1],
        ],
        labels=["drifted", "within threshold", f"threshold {run.threshold:g}"],
        loc="lower right",
    )
    return png(figure)


def held[T](samples: list[T]) -> list[T]:
    """The samples with the last one repeated, for the held span at the end of a timeline."""
    return [*samples, samples[-1]] if samples else []


def held_times(times: list[float]) -> list[float]:
    """The samples' times and the end of the last one's held span."""
    if not times:
        return []
    return [*times, times[-1] + max((times[-1] - times[0]) * HOLD_FRACTION, 1.0)]


def spans(states: list[str], times: list[float]) -> list[tuple[str, float, float]]:
    """Runs of one state: (state, start, end), from samples and their (held) times."""
    result: list[tuple[str, float, float]] = []
    for index, state in enumerate(states):
        if result and result[-1][0] == state:
            result[-1] = (state, result[-1][1], times[index + 1])
        else:
            result.append((state, times[index], times[index + 1]))
    return result


def share(weights: dict[str, float], variant: str) -> float:
    total = sum(weights.values())
    return weights.get(variant, 0.0) / total if total > 0 else 0.0


def device_states(seen: Iterable[str]) -> list[str]:
    """The states, lifecycle order first, then others as first seen."""
    unique = list(dict.fromkeys(seen))
    return [s for s in DEVICE_STATE_COLOURS if s in unique] + [s for s in unique if s not in DEVICE_STATE_COLOURS]


def state_colours(states: list[str]) -> list[str]:
    others = iter(OTHER_COLOURS * (1 + len(states) // len(OTHER_COLOURS)))
    return [DEVICE_STATE_COLOURS.get(state) or next(others) for state in states]
