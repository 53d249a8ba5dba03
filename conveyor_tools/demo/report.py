"""The demo's report: one self-contained HTML page of its summary (build/demo/report.html).

Self-contained means the page loads nothing: the plots are PNGs inline as ``data:`` URLs, the
style is inline, and there is no script. So it opens the same from a CI artifact, a mail
attachment or a machine without network. Every string from the summary is HTML-escaped (a
model's reasons or a finding's title come from the stack and may hold anything). A section with
nothing to show says so in words rather than showing an empty plot.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from conveyor_tools.demo import plots as demo_plots
from conveyor_tools.demo.summary import Canary, DemoSummary, DriftRun, EdgeRelease, ModelResult

STYLE = """
body { font-family: system-ui, sans-serif; color: #222; max-width: 70rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; border-bottom: 1px solid #ccc; margin-top: 2.5rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.number { text-align: right; font-variant-numeric: tabular-nums; }
tr.failed td { background: #fde8e8; }
figure { margin: 1rem 0; } img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption, .empty { color: #555; font-style: italic; }
"""


def render(summary: dict[str, Any]) -> str:
    """The report of a demo's summary (its JSON, parsed), as one HTML page that loads nothing."""
    report = DemoSummary.model_validate(summary)
    title = f"Conveyor demo: {report.stack} {report.version}"
    passed = sum(step.ok for step in report.steps)
    sections = [
        f"<h1>{escape(title)}</h1>",
        f"<p>Health {escape(report.health)}; {passed} of {len(report.steps)} steps as described;"
        f" {report.seconds:.1f} s in all.</p>",
        steps_section(report),
        models_section(report.models),
        canary_section(report.canary),
        fleet_section(report.edge),
        drift_section(report.drift),
        executions_section(report),
        findings_section(report),
    ]
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def plots(summary: dict[str, Any]) -> int:
    """How many plots the report of ``summary`` shows: the models', and one per canary, edge release
    and drift run with a timeline or scores to draw."""
    report = DemoSummary.model_validate(summary)
    drawn = [*(c.timeline for c in report.canary), *(r.timeline for r in report.edge), *(d.psi for d in report.drift)]
    return bool(report.models) + sum(bool(item) for item in drawn)


def write(summary: dict[str, Any], path: Path) -> Path:
    """Write the report of ``summary`` to ``path`` (its folder made if missing); the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(summary), encoding="utf-8")
    return path


def steps_section(report: DemoSummary) -> str:
    rows = [[str(s.number), s.title, s.outcome, "yes" if s.ok else "NO", f"{s.seconds:.1f}"] for s in report.steps]
    failed = [not s.ok for s in report.steps]
    return section("Steps", table(["#", "step", "outcome", "ok", "seconds"], rows, failed=failed), "steps")


def models_section(models: list[ModelResult]) -> str:
    if not models:
        return section("Models", "", "models")
    decisions = {d: sum(m.decision == d for m in models) for d in demo_plots.DECISION_STYLE}
    alt = (
        f"Models plot: the objective metric of {len(models)} models against the floor;"
        f" {decisions['Approved']} approved, {decisions['Rejected']} rejected."
    )
    rows = [
        [
            str(m.version),
            m.run_id,
            m.metric,
            f"{m.value:.4f}",
            "" if m.champion_value is None else f"{m.champion_value:.4f}",
            f"{m.floor:g}",
            m.decision,
            "; ".join(m.reasons),
            m.package,
        ]
        for m in models
    ]
    headers = ["version", "run", "metric", "value", "champion, same rows", "floor", "decision", "reasons", "package"]
    return section("Models", figure(demo_plots.models_plot(models), alt) + table(headers, rows), "models")


def canary_section(canaries: list[Canary]) -> str:
    if not canaries:
        return section("Canary releases", "", "canary releases")
    parts = []
    for canary in canaries:
        outcome = demo_plots.CANARY_OUTCOMES[canary.outcome]
        if canary.alarm_to_weight_zero_seconds is not None:
            outcome += f": its weight was 0 {canary.alarm_to_weight_zero_seconds:g} s after the alarm"
        name = f"Canary of package {canary.package_version} (variant {canary.variant}): {outcome}"
        if canary.timeline:
            alt = f"{name}. Each variant's share of traffic over {len(canary.timeline)} samples, alarm state below."
            parts.append(figure(demo_plots.canary_plot(canary), alt))
        else:
            parts.append(paragraph(f"{name}; no timeline was recorded."))
    return section("Canary releases", "\n".join(parts), "canary releases")


def fleet_section(releases: list[EdgeRelease]) -> str:
    if not releases:
        return section("Edge fleet", "", "edge releases")
    parts = []
    for release in releases:
        now = ", ".join(f"{count} {state}" for state, count in release.devices.items()) or "no devices"
        name = (
            f"Edge release of component {release.component_version} (package {release.package_version}):"
            f" {release.outcome}, {release.status}; devices now {now}"
        )
        if release.timeline:
            alt = f"{name}. Devices per state over {len(release.timeline)} samples of the rollout."
            parts.append(figure(demo_plots.fleet_plot(release), alt))
        else:
            parts.append(paragraph(f"{name}; no timeline was recorded."))
    return section("Edge fleet", "\n".join(parts), "edge releases")


def drift_section(runs: list[DriftRun]) -> str:
    if not runs:
        return section("Drift", "", "drift runs")
    parts = []
    for run in runs:
        drifted = ", ".join(run.features) or "none"
        name = (
            f"Drift in {run.run_id} over {run.rows} rows: drifted {drifted} (max PSI {run.max_psi:.3g},"
            f" threshold {run.threshold:g}); the model was {run.decision}"
        )
        if run.psi:
            parts.append(figure(demo_plots.drift_plot(run), f"{name}. PSI per feature against the threshold."))
        else:
            parts.append(paragraph(f"{name}; no PSI per feature was recorded."))
    return section("Drift", "\n".join(parts), "drift runs")


def executions_section(report: DemoSummary) -> str:
    rows = [[e.name, e.workflow, e.status] for e in report.executions]
    return section("Executions", table(["execution", "workflow", "status"], rows), "executions")


def findings_section(report: DemoSummary) -> str:
    rows = [
        [
            f.kind,
            f.title,
            f.actor,
            "; ".join(f.remediated) or "nothing",
            "yes" if f.frozen else "no",
            f.unfrozen_by or "",
            f.reason or "",
            f.finding_id,
        ]
        for f in report.findings
    ]
    headers = ["kind", "title", "actor", "remediated", "froze releases", "unfrozen by", "reason", "finding"]
    return section("Security findings", table(headers, rows), "security findings")


def section(title: str, body: str, things: str) -> str:
    """A section of the page; with no body, a sentence saying the summary holds no ``things``."""
    shown = body or paragraph(f"No {things} in this summary.", css_class="empty")
    return f"<section>\n<h2>{escape(title)}</h2>\n{shown}\n</section>"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, failed: Sequence[bool] = ()) -> str:
    """An HTML table of plain-text cells (escaped here, numbers right-aligned); empty without rows."""
    if not rows:
        return ""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    lines = []
    for index, row in enumerate(rows):
        marked = ' class="failed"' if index < len(failed) and failed[index] else ""
        cells = "".join(f"<td{numeric(cell)}>{escape(cell)}</td>" for cell in row)
        lines.append(f"<tr{marked}>{cells}</tr>")
    body = "\n".join(lines)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def numeric(cell: str) -> str:
    try:
        float(cell)
    except ValueError:
        return ""
    return ' class="number"'


def figure(png: bytes, alt: str) -> str:
    """A plot inline as a data: URL, its alt text also its caption."""
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{escape(alt)}">'
        f"<figcaption>{escape(alt)}</figcaption></figure>"
    )


def paragraph(text: str, *, css_class: str | None = None) -> str:
    marked = f' class="{css_class}"' if css_class else ""
    return f"<p{marked}>{escape(text)}</p>"


def escape(text: str) -> str:
    return html.escape(text, quote=True)
