"""`conveyor-local translate` writes the plain CloudFormation that scans and the local cloud use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conveyor_tools import demo
from conveyor_tools.cli import main
from tests.conftest import TEMPLATE


def test_translate_writes_cloudformation_without_serverless_types(tmp_path: Path) -> None:
    output = tmp_path / "translated.json"
    assert main(["translate", "--template", str(TEMPLATE), "--output", str(output)]) == 0
    resources = json.loads(output.read_text())["Resources"]
    assert resources["IngestFunction"]["Type"] == "AWS::Lambda::Function"
    assert not [r for r in resources.values() if r["Type"].startswith("AWS::Serverless::")]


def test_a_failed_demo_step_is_reported_and_exits_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(template: Path, summary: Path, **options: object) -> None:
        raise demo.DemoFailedError("expected one run, got none")

    monkeypatch.setattr(demo, "run", fail)
    assert main(["demo", "--summary", str(tmp_path / "summary.json")]) == 1
    assert "demo failed: expected one run, got none" in capsys.readouterr().err
