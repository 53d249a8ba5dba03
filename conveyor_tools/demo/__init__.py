"""The demo: the whole loop on the local cloud, as a story of nine steps with live progress, a
summary (``build/demo/summary.json``) of what each step did, and a report with plots.

``run`` deploys template.yaml into a local cloud and plays the story in it; ``play`` plays it in a
local cloud already deployed with :data:`PARAMETERS` (``conveyor local up --demo``).
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from rich.console import Console

import conveyor
from conveyor_tools import browser
from conveyor_tools.demo import fleet, observe, report
from conveyor_tools.demo.data import DemoData, DemoDataError, FromCsv, Generated, install_schema
from conveyor_tools.demo.errors import DemoFailedError
from conveyor_tools.demo.progress import Progress
from conveyor_tools.demo.story import MIN_NEW_ROWS, Story
from localcloud.cloud import LocalCloud
from localcloud.delivery import AtLeastOnce

__all__ = [
    "PARAMETERS",
    "DemoDataError",
    "DemoFailedError",
    "check_report",
    "command",
    "load_data",
    "parameters",
    "play",
    "report",
    "run",
]
SCHEMAS = Path(conveyor.__file__).parent / "schemas"


def parameters(data: DemoData | None = None) -> dict[str, str]:
    """The template parameters the demo deploys with: quick runs and rollouts, a 6-minute bake."""
    schema = (data or Generated()).schema
    return {
        "FeatureSchema": schema.name,
        "MinNewRows": str(MIN_NEW_ROWS),
        "RetrainSchedule": "rate(1 hour)",
        "NumRound": "100",
        # Each run trains on the newest parts, up to 6,000 rows: good data after bad trains a good model.
        "MaxTrainingRows": "6000",
        "MetricFloor": "0.70",
        # Two good models scored on the same few hundred test rows differ by a few hundredths.
        "RegressionTolerance": "0.03",
        "CanaryPercent": "20",
        "BakeMinutes": "6",
        **fleet.parameters(),
    }


PARAMETERS = parameters()


def play(
    cloud: LocalCloud, summary_path: Path, data: DemoData | None = None, *, console: Console | None = None
) -> dict[str, Any]:
    """Play the story in ``cloud``, its progress on ``console`` (the terminal); write and return its summary
    (written too when a step fails, as far as the stack can be read)."""
    # The stack's functions publish no metric on most calls, and say so each time.
    warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
    progress = Progress(cloud.clock, console) if console else Progress(cloud.clock)
    announcements = observe.Announcements(cloud)
    story = Story(cloud, data or Generated(), progress, fleet.Fleet(cloud, progress, announcements))
    progress.detail(f"fleet: {story.fleet.describe()}")
    try:
        story.play()
    except Exception:
        try:
            write_summary(summary(cloud, story, progress), summary_path, progress)
        except Exception as error:  # the step's own failure is the one to raise
            progress.detail(f"no summary written: {error}")
        raise
    return write_summary(summary(cloud, story, progress), summary_path, progress)


def summary(cloud: LocalCloud, story: Story, progress: Progress) -> dict[str, Any]:
    """What the story did, as the summary's keys say, read back from the stack."""
    return {
        "stack": cloud.stack_name,
        "version": story.summary.get("version", ""),
        "health": story.summary.get("health", ""),
        "seconds": round(progress.seconds, 1),
        "steps": [step.summary() for step in progress.steps],
        "fleet": story.fleet.summary(),
        "deliveries": {
            "duplicated": sum(fate.copies - 1 for fate in cloud.deliveries.log),
            "late": sum(fate.late for fate in cloud.deliveries.log),
            "refused": sum(cloud.deliveries.refused.values()),
        },
        "dataset": observe.dataset(cloud),
        "runs": observe.runs(cloud),
        "executions": observe.executions(cloud),
        "models": observe.models(cloud),
        "canary": story.canaries,
        "edge": story.fleet.releases,
        "drift": story.summary.get("drift", []),
        "findings": story.summary.get("findings", []),
    }


def write_summary(written: dict[str, Any], path: Path, progress: Progress) -> dict[str, Any]:
    """Write the summary and its report beside it; the summary."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(written, indent=2) + "\n", encoding="utf-8")
    page = report.write(written, path.with_name("report.html"))
    progress.say(f"Summary written to {path}, report to {page}")
    return written


def run(
    template: Path,
    summary_path: Path,
    *,
    delivery: AtLeastOnce | None = None,
    data: DemoData | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Deploy ``template`` into a local cloud and play the story in it.

    ``delivery`` None delivers every event once, in order; ``AtLeastOnce(seed=...)`` as AWS may.
    """
    began = time.monotonic()
    print(f"==> Deploying {template} into the local cloud (samtranslator + moto, no AWS account)", flush=True)
    with LocalCloud.from_template(template, parameters=parameters(data), delivery=delivery) as cloud:
        print(f"    deployed in {time.monotonic() - began:.1f} s: stack {cloud.stack_name}", flush=True)
        return play(cloud, summary_path, data, console=console)


def load_data(dataset: Path | None, schema: Path | None) -> DemoData:
    """The generated data, or ``dataset`` under ``schema``, which goes into the shared layer's schemas
    (where the stack's functions read it, and a deployment would)."""
    if dataset is None or schema is None:
        return Generated()
    data = FromCsv.load(dataset, schema)
    installed = install_schema(data.schema, schema, SCHEMAS)
    name = data.schema.name
    print(f"==> Schema {name!r} is at {installed}; deploy it with FeatureSchema={name}", flush=True)
    return data


def command(template: Path, summary_path: Path, dataset: Path | None = None, schema: Path | None = None) -> int:
    """``conveyor demo`` and ``make demo``: the story on generated data or ``dataset``; the exit status."""
    try:
        data = load_data(dataset, schema)
        played = run(template, summary_path, data=data)
        check_report(summary_path.with_name("report.html"), report.plots(played))
    except DemoDataError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 2
    except DemoFailedError as error:
        print(f"demo failed: {error}", file=sys.stderr)
        return 1
    return 0


def check_report(page: Path, plots: int) -> None:
    """Open the report in headless Chromium, keeping a screenshot beside it: every one of its ``plots``
    must show, and the page log no error. Without a browser, say so (the report stands unchecked)."""
    try:
        checked = browser.check_page(page, page.with_suffix(".png"))
    except browser.BrowserUnavailableError as error:
        print(f"==> Report not checked in a browser: {error}", flush=True)
        return
    except browser.BrowserError as error:
        raise DemoFailedError(f"{page} could not be checked in Chromium: {error}") from error
    problems = checked.problems
    if len(checked.images) != plots:
        problems = [*problems, f"{len(checked.images)} images where the report has {plots} plots"]
    if problems:
        raise DemoFailedError(f"{page} in Chromium: {'; '.join(problems)}")
    print(f"==> Report checked in Chromium: {plots} plots shown, screenshot {checked.screenshot}", flush=True)
