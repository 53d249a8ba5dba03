"""`make demo` runs the whole loop and writes its summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localcloud import demo
from tests.conftest import TEMPLATE

pytestmark = pytest.mark.localcloud


def test_the_demo_trains_a_champion_rejects_the_shuffled_round_and_summarises(tmp_path: Path) -> None:
    summary_path = tmp_path / "summary.json"
    demo.run(TEMPLATE, summary_path)
    summary = json.loads(summary_path.read_text())
    runs = [(e["name"], e["workflow"], e["status"]) for e in summary["executions"]]
    assert runs == [
        ("run-000001", "retraining", "SUCCEEDED"),
        ("run-000002", "retraining", "SUCCEEDED"),
        ("run-000001", "edge_release", "SUCCEEDED"),
        ("run-000001", "canary_release", "SUCCEEDED"),
    ]
    assert [(m["run_id"], m["decision"]) for m in summary["models"]] == [
        ("run-000001", "Approved"),
        ("run-000002", "Rejected"),
    ]
    assert summary["models"][0]["value"] > summary["models"][1]["value"]
