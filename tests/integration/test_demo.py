"""`make demo` runs the whole loop and writes its summary; its data gives the same outcome however events arrive."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from conveyor_tools import demo
from localcloud.delivery import AtLeastOnce
from tests.conftest import TEMPLATE

pytestmark = pytest.mark.localcloud


@pytest.fixture(scope="module")
def ordered_summary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's summary, every event delivered once and in order (the default)."""
    summary_path = tmp_path_factory.mktemp("ordered") / "summary.json"
    demo.run(TEMPLATE, summary_path)
    return summary_path


def test_the_demo_trains_a_champion_rejects_the_shuffled_round_and_summarises(ordered_summary: Path) -> None:
    summary = json.loads(ordered_summary.read_text())
    runs = [(e["name"], e["workflow"], e["status"]) for e in summary["executions"]]
    assert runs == [
        ("run-000001", "retraining", "SUCCEEDED"),
        ("run-000002", "retraining", "SUCCEEDED"),
        ("run-000003", "retraining", "SUCCEEDED"),
        ("package-1", "edge_release", "SUCCEEDED"),
        ("package-1", "canary_release", "SUCCEEDED"),
    ]
    assert [(m["run_id"], m["decision"]) for m in summary["models"]] == [
        ("run-000001", "Approved"),
        ("run-000002", "Rejected"),
        ("run-000003", "Rejected"),
    ]
    assert summary["models"][0]["value"] > summary["models"][1]["value"]
    # The recalibrated sensor's 600 rows, fewer than MinNewRows, started the third run, naming the torque
    assert [r["trigger"] for r in summary["runs"]] == ["threshold", "threshold", "drift"]
    [drift] = summary["drift"]
    assert (drift["run_id"], drift["features"], drift["rows"]) == ("run-000003", ["torque_nm"], 600)
    assert drift["max_psi"] > 0.2
    # The stack's own work raised no finding; the intruder's suspended versioning was undone and lifted
    assert summary["security"] == {
        "finding": "versioning-suspended",
        "remediated": ["resumed versioning"],
        "frozen": True,
        "unfrozen": True,
    }


def dataset(summary: dict[str, Any]) -> list[tuple[str, int]]:
    """Each part's source and rows; Firehose names its objects with a random suffix, so its are named alike."""
    return sorted(
        (re.sub(r"^incoming/stream/.*", "incoming/stream/*", p["source"]), p["rows"])
        for p in summary["dataset"]["parts"]
    )


def without_psi(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs, a drift run's index left out: the champion's baseline comes from its training rows,
    which a Firehose object's random name moves between channels (as it moves the metric, below)."""
    return [run | {"drift": run["drift"] and {k: v for k, v in run["drift"].items() if k != "max_psi"}} for run in runs]


def decisions(summary: dict[str, Any]) -> list[tuple[str, str, str, str | None]]:
    """Each model's run, metric and decision, and the kind of its first reason (before its numbers).

    Only the first: a model of shuffled labels scores near chance, as does the champion on its rows,
    so whether it also regressed beyond the tolerance moves with the metric (see below).
    """
    return [
        (m["run_id"], m["metric"], m["decision"], m["reasons"][0].split(":")[0] if m["reasons"] else None)
        for m in summary["models"]
    ]


def test_delivered_at_least_once_the_demo_data_gives_the_same_dataset_runs_and_models(
    ordered_summary: Path, tmp_path: Path
) -> None:
    # Given the demo's data, delivered once and in order
    ordered = json.loads(ordered_summary.read_text())
    # When it is delivered as AWS may: some events twice, some late, DynamoDB throttling and conflicting
    at_least_once = demo.run(TEMPLATE, tmp_path / "summary.json", delivery=AtLeastOnce(seed=11))
    assert ordered["deliveries"] == {"duplicated": 0, "late": 0, "refused": 0}
    assert all(count > 0 for count in at_least_once["deliveries"].values()), at_least_once["deliveries"]
    # Then each input is one part, the same runs train on the same rows, and the same models are decided
    assert dataset(at_least_once) == dataset(ordered)
    assert at_least_once["dataset"]["rows"] == 145 + 1500 + 1500 + 9000 + 600
    assert without_psi(at_least_once["runs"]) == without_psi(ordered["runs"])
    assert at_least_once["executions"] == ordered["executions"]
    assert decisions(at_least_once) == decisions(ordered)
    # And the intruder's call, however often its event comes, is one finding undone once
    assert at_least_once["security"] == ordered["security"]
    # (The metric itself moves a little from run to run in either mode: Firehose names its object at
    # random, and where its rows live decides their channel.)
    approved, same_approved = at_least_once["models"][0], ordered["models"][0]
    assert approved["value"] == pytest.approx(same_approved["value"], abs=0.05)
