"""`make demo` plays the whole story and ends each step as told; its data gives the same outcome however
events arrive; `conveyor demo` plays it on a dataset and schema of the user's own."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import math
import os
import random
import re
import shutil
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conveyor_tools import browser, demo
from conveyor_tools.demo import fleet
from conveyor_tools.local_server import serving
from conveyor_tools.operator_cli import main as conveyor
from localcloud import LocalCloud
from localcloud.delivery import AtLeastOnce
from tests.conftest import TEMPLATE

pytestmark = pytest.mark.localcloud

STEPS = [(number, True) for number in range(1, 10)]
RELEASED = ["package-1", "package-2", "package-5", "package-6"]


@dataclass
class Played:
    summary: dict[str, Any]
    report: Path
    status: dict[str, Any]
    """What `conveyor status --json --endpoint-url` printed for the served stack after the demo."""


@pytest.fixture(scope="session")
def played(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Played:
    """The demo played in a local cloud served over HTTP (as `conveyor local up --demo` serves it), every
    event delivered once and in order; then the operator's status of it, read over HTTP.

    Played once per test run: the first worker to need it plays it under a lock, the others read what
    it kept (each pytest-xdist worker has a session of its own).
    """
    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    summary_path, status_path = shared / "ordered-demo" / "summary.json", shared / "ordered-demo" / "status.json"
    with (shared / "ordered-demo.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not status_path.exists():
            with LocalCloud.from_template(TEMPLATE, parameters=demo.PARAMETERS) as cloud, serving(cloud) as url:
                demo.play(cloud, summary_path)
                out = io.StringIO()
                with redirect_stdout(out):
                    exited = conveyor(["status", "--json", "--endpoint-url", url, "--stack-name", cloud.stack_name])
                assert exited == 0
            status_path.write_text(out.getvalue())
    summary = json.loads(summary_path.read_text())
    return Played(summary, summary_path.with_name("report.html"), json.loads(status_path.read_text()))


@pytest.fixture(scope="session")
def ordered(played: Played) -> dict[str, Any]:
    return played.summary


def test_every_step_of_the_story_ends_as_told(ordered: dict[str, Any]) -> None:
    assert [(step["number"], step["ok"]) for step in ordered["steps"]] == STEPS
    runs = [f"run-00000{n}" for n in range(1, 7)]
    assert ordered["executions"] == (
        [{"name": run, "workflow": "retraining", "status": "SUCCEEDED"} for run in runs]
        + [{"name": name, "workflow": "edge_release", "status": "SUCCEEDED"} for name in RELEASED]
        + [{"name": name, "workflow": "canary_release", "status": "SUCCEEDED"} for name in RELEASED]
    )
    # Runs start by themselves: on new rows, on drift, and on the schedule once releases were unfrozen
    assert [r["trigger"] for r in ordered["runs"]] == ["threshold"] * 3 + ["drift", "threshold", "schedule"]
    # The gate approved models 1, 2, 5 and 6; the canary's rollback rejected 5 afterwards
    decided = [(m["run_id"], m["decision"], m["status"]) for m in ordered["models"]]
    assert decided == [
        ("run-000001", "Approved", "Approved"),
        ("run-000002", "Approved", "Approved"),
        ("run-000003", "Rejected", "Rejected"),
        ("run-000004", "Rejected", "Rejected"),
        ("run-000005", "Approved", "Rejected"),
        ("run-000006", "Approved", "Approved"),
    ]
    shuffled = ordered["models"][2]
    assert shuffled["value"] < shuffled["floor"] < ordered["models"][1]["value"]


def test_the_canaries_promote_the_healthy_models_and_the_alarm_rolls_back_the_failing_one(
    ordered: dict[str, Any],
) -> None:
    canaries = {c["package_version"]: c for c in ordered["canary"]}
    assert {v: c["outcome"] for v, c in canaries.items()} == {
        1: "first",
        2: "promoted",
        5: "rolled_back",
        6: "promoted",
    }
    promoted, rolled_back = canaries[2], canaries[5]
    # The healthy one took a share of the traffic for the whole bake, then all of it
    assert promoted["timeline"][0]["weights"] == {"p1": 0.8, "p2": 0.2}
    assert promoted["timeline"][-1]["weights"] == {"p2": 1.0}
    assert promoted["timeline"][-1]["seconds"] >= demo.story.BAKE_MINUTES * 60
    assert "ALARM" not in {look["alarm"] for look in promoted["timeline"]}
    # The failing one went to weight 0 as its alarm fired, well within one bake
    # (whichever of its alarms crossed first: the errors, or the error rate against the champion's)
    assert rolled_back["alarm"].rsplit("-p5-", 1)[1] in ("errors", "error-rate-vs-champion", "latency-p99")
    assert 0 <= rolled_back["alarm_to_weight_zero_seconds"] < 60
    alarmed = [look for look in rolled_back["timeline"] if look["alarm"] == "ALARM"]
    assert alarmed[0]["weights"] == {"p2": 0.8, "p5": 0.2}
    assert alarmed[1]["weights"] == {"p2": 0.8, "p5": 0.0}
    assert rolled_back["timeline"][-1]["weights"] == {"p2": 1.0}
    assert rolled_back["timeline"][-1]["seconds"] < demo.story.BAKE_MINUTES * 60


def test_the_fleet_runs_each_promoted_model_and_never_the_rolled_back_one(ordered: dict[str, Any]) -> None:
    if fleet.missing_tools():
        pytest.skip(f"the ARM devices need the cross compilers and qemu-user: {fleet.missing_tools()[0]}")
    devices = len(fleet.DEVICES)
    edge = [(e["package_version"], e["component_version"], e["outcome"], e["devices"]) for e in ordered["edge"]]
    assert edge == [
        (1, "1.1.0", "rolled out", {"RUNNING": devices}),
        (2, "1.2.0", "rolled out", {"RUNNING": devices}),
        (5, "none", "stopped", {"on 1.2.0": devices}),
        (6, "1.6.0", "rolled out", {"RUNNING": devices}),
    ]
    # The staged rollout reached the devices a few at a time (2 a minute)
    second = ordered["edge"][1]["timeline"]
    assert any(0 < look["devices"].get("RUNNING", 0) < devices for look in second)


def test_drift_names_the_recalibrated_sensor_and_tampering_is_undone_and_acknowledged(
    ordered: dict[str, Any],
) -> None:
    [drift] = ordered["drift"]
    assert (drift["run_id"], drift["features"], drift["rows"]) == ("run-000004", ["torque_nm"], 600)
    assert (
        drift["psi"]["torque_nm"]
        > drift["threshold"]
        > max(psi for name, psi in drift["psi"].items() if name != "torque_nm")
    )
    [finding] = ordered["findings"]
    assert finding["kind"] == "public-access-block-deleted"
    assert finding["actor"].endswith(":user/mallory")
    assert finding["remediated"]
    assert finding["frozen"]
    assert finding["unfrozen_by"]
    assert finding["reason"].startswith("demo:")


def test_conveyor_status_over_http_shows_what_the_summary_reports(played: Played) -> None:
    status, summary = played.status, played.summary
    # The champion is the last model promoted, and the canary holding the endpoint is its own
    promoted = [c["package_version"] for c in summary["canary"] if c["outcome"] in ("first", "promoted")]
    assert status["champion"]["version"] == promoted[-1] == summary["models"][-1]["version"]
    assert status["champion"]["objective"]["value"] == pytest.approx(summary["models"][-1]["value"], abs=1e-4)
    assert (status["canary"]["version"], status["canary"]["state"]) == (promoted[-1], "PROMOTED")
    assert status["canary"]["weights"] == {f"p{promoted[-1]}": 1.0}
    # The newest edge release is the last one the summary shows, with its component and devices
    last = summary["edge"][-1]
    assert status["edge"]["execution"] == f"package-{last['package_version']}"
    assert status["edge"]["component_version"] == last["component_version"]
    assert status["edge"]["rollout"]["devices"]["succeeded"] == last["devices"]["RUNNING"]
    # Releases are no longer frozen: the demo's operator lifted the finding's freeze
    [finding] = summary["findings"]
    assert status["freeze"]["frozen"] is False
    assert status["freeze"]["lifted_by"] == finding["unfrozen_by"]
    # And each workflow's newest executions are the summary's
    for workflow, listed in status["executions"].items():
        newest = [e["name"] for e in summary["executions"] if e["workflow"] == workflow][-len(listed) :]
        assert sorted(e["name"] for e in listed) == sorted(newest), workflow


def test_the_report_shows_every_plot_in_a_browser_and_logs_no_error(played: Played) -> None:
    try:
        browser.find_browser()
    except browser.BrowserUnavailableError as error:
        pytest.skip(f"needs Debian's chromium package (installed by .ci/run): {error}")
    checked = browser.check_page(played.report, played.report.with_suffix(".png"))
    assert checked.problems == []
    # A plot for the models, one per canary that baked, one per edge release and one per drift run
    summary = played.summary
    baked = [c for c in summary["canary"] if c["timeline"]]
    assert len(checked.images) == 1 + len(baked) + len(summary["edge"]) + len(summary["drift"])
    assert all(image.visible and image.natural_width > 0 for image in checked.images)


def dataset(summary: dict[str, Any]) -> list[tuple[str, int]]:
    """Each part's source and rows; Firehose names its objects with a random suffix, so its are named alike."""
    return sorted(
        (re.sub(r"^incoming/stream/.*", "incoming/stream/*", p["source"]), p["rows"])
        for p in summary["dataset"]["parts"]
    )


def test_delivered_at_least_once_the_demo_ends_the_same(ordered: dict[str, Any], tmp_path: Path) -> None:
    # When the demo's data is delivered as AWS may: some events twice, some late, DynamoDB throttling
    at_least_once = demo.run(TEMPLATE, tmp_path / "summary.json", delivery=AtLeastOnce(seed=11))
    assert ordered["deliveries"] == {"duplicated": 0, "late": 0, "refused": 0}
    assert all(count > 0 for count in at_least_once["deliveries"].values()), at_least_once["deliveries"]
    # Then each input is one part, and every step, run, release and decision is the same
    assert dataset(at_least_once) == dataset(ordered)
    assert at_least_once["dataset"]["rows"] == 145 + 3000 + 4000 + 4000 + 600 + 6000 + 3000
    assert [(s["number"], s["ok"]) for s in at_least_once["steps"]] == STEPS
    assert at_least_once["executions"] == ordered["executions"]
    assert [(m["run_id"], m["decision"], m["status"]) for m in at_least_once["models"]] == [
        (m["run_id"], m["decision"], m["status"]) for m in ordered["models"]
    ]
    assert [c["outcome"] for c in at_least_once["canary"]] == [c["outcome"] for c in ordered["canary"]]
    # And the intruder's call, however often its event comes, is one finding
    assert [f["kind"] for f in at_least_once["findings"]] == [f["kind"] for f in ordered["findings"]]


def loans(path: Path, rows: int = 20_000, seed: int = 5) -> Path:
    """A binary-classification CSV the demo has never seen: loan applications, and whether each defaulted."""
    generator = random.Random(seed)
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["region", "income_k", "debt_ratio", "age", "late_payments", "utilization", "defaulted"])
        for _ in range(rows):
            income, debt = generator.lognormvariate(4.0, 0.4), generator.uniform(0.0, 0.9)
            age, late, use = generator.randint(21, 75), generator.randint(0, 6), generator.betavariate(2, 3)
            score = -2.5 + 3.0 * debt + 0.6 * late + 2.0 * use - 0.01 * income
            defaulted = int(generator.random() < 1 / (1 + math.exp(-score)))
            region = generator.choice(["north", "south", "east", "west"])
            writer.writerow([region, round(income, 2), round(debt, 3), age, late, round(use, 3), defaulted])
    return path


@pytest.fixture
def own_schema(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A CSV of the user's own and the schema `conveyor schema infer` wrote for it (removed from the
    shared layer's schemas afterwards, where the demo puts it)."""
    name = f"test_loans_{os.getpid()}"
    data, schema = loans(tmp_path / "loans.csv"), tmp_path / "loans.json"
    inferred = conveyor(["schema", "infer", str(data), "--label", "defaulted", "--name", name, "--output", str(schema)])
    assert inferred == 0
    yield data, schema
    (demo.SCHEMAS / f"{name}.json").unlink(missing_ok=True)


def test_conveyor_demo_plays_the_story_on_the_users_own_data(own_schema: tuple[Path, Path], tmp_path: Path) -> None:
    data, schema = own_schema
    summary_path = tmp_path / "summary.json"
    exited = conveyor(["demo", "--dataset", str(data), "--schema", str(schema), "--summary", str(summary_path)])
    assert exited == 0
    summary = json.loads(summary_path.read_text())
    assert [(step["number"], step["ok"]) for step in summary["steps"]] == STEPS
    # It ends with a model approved, canaried, promoted and deployed to the fleet
    last = summary["models"][-1]
    assert (last["run_id"], last["decision"], last["status"]) == ("run-000006", "Approved", "Approved")
    assert summary["canary"][-1]["package_version"] == 6
    assert summary["canary"][-1]["outcome"] == "promoted"
    assert (summary["edge"][-1]["package_version"], summary["edge"][-1]["outcome"]) == (6, "rolled out")
    [drift] = summary["drift"]
    assert drift["features"], drift
    # Its report was checked in the browser, when the machine has one
    assert summary_path.with_name("report.png").exists() == any(map(shutil.which, browser.BROWSERS))


def test_conveyor_demo_names_what_is_wrong_with_the_users_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"name": "x", "label": {"name": "y", "values": [0, 1]}, "features": [{"name": "a"}]}))
    data = tmp_path / "data.csv"
    data.write_text("y,b\n1,2\n")
    assert conveyor(["demo", "--dataset", str(data), "--schema", str(schema)]) == 2
    assert f"{data}: line 1: no column 'a' of schema 'x'" in capsys.readouterr().err
    assert conveyor(["demo", "--dataset", str(data)]) == 2
