"""The component's Run step: ``serve`` turns readings files into predictions and never loses or rereads one."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import types
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from conveyor_inference.cli import main
from conveyor_inference.model import load
from conveyor_inference.serve import Server
from conveyor_inference.sinks import IPC_SOCKET_VARIABLE, FileSink, IpcSink, Prediction, choose_sink
from tests.localcloud.compilation_stack import feature_matrix
from tests.unit.edge.models import COMPONENT, artifact, readings_csv, xgboost_predictions

ROWS = feature_matrix(40)


def served(work: Path, name: str) -> list[dict[str, object]]:
    """The JSON lines the file sink wrote for readings file ``name``."""
    lines = (work / "predictions" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def serve_once(tmp_path: Path) -> int:
    model = artifact(tmp_path, "ml_c5")
    return main(["serve", "--model", str(model), "--work", str(tmp_path / "work"), "--once"])


def test_serve_once_predicts_what_xgboost_predicts_and_sets_the_file_aside(tmp_path: Path) -> None:
    # Given a readings file (missing values as empty cells) in the readings folder
    readings = tmp_path / "work" / "readings"
    readings.mkdir(parents=True)
    (readings / "batch-1.csv").write_text(readings_csv(ROWS), encoding="utf-8")
    # When the component serves what is waiting
    assert serve_once(tmp_path) == 0
    # Then each line has XGBoost's prediction, and the file moved to done/
    records = served(tmp_path / "work", "batch-1.csv")
    assert [(r["file"], r["line"]) for r in records] == [("batch-1.csv", n) for n in range(1, len(ROWS) + 1)]
    predictions = np.array([r["prediction"] for r in records])
    np.testing.assert_allclose(predictions, xgboost_predictions(ROWS), rtol=0, atol=1e-5)
    assert [p.name for p in readings.iterdir()] == ["done"]
    assert (readings / "done" / "batch-1.csv").read_text(encoding="utf-8") == readings_csv(ROWS)


def test_a_bad_line_is_set_aside_with_its_file_and_line_and_the_rest_is_served(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a readings file whose line 2 holds a word and line 4 a row too short
    lines = readings_csv(ROWS[:5]).splitlines()
    lines[1] = "1.0,2.0,warm,4.0,5.0,6.0"
    lines[3] = "1.0,2.0,3.0"
    readings = tmp_path / "work" / "readings"
    readings.mkdir(parents=True)
    (readings / "mixed.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # When the component serves it
    assert serve_once(tmp_path) == 0
    # Then lines 1, 3 and 5 are predicted; lines 2 and 4 are set aside with their reasons
    records = served(tmp_path / "work", "mixed.csv")
    assert [r["line"] for r in records] == [1, 3, 5]
    np.testing.assert_allclose([r["prediction"] for r in records], xgboost_predictions(ROWS[[0, 2, 4]]), atol=1e-5)
    assert (readings / "failed" / "mixed.csv").read_text(encoding="utf-8") == f"{lines[1]}\n{lines[3]}\n"
    reason = json.loads((readings / "failed" / "mixed.csv.error.json").read_text(encoding="utf-8"))
    assert reason == {
        "file": "mixed.csv",
        "errors": [
            {"line": 2, "error": "field 3 is 'warm', not a number"},
            {"line": 4, "error": "3 fields, the model reads 6"},
        ],
    }
    assert f"{readings / 'mixed.csv'} line 2: field 3 is 'warm', not a number" in caplog.text
    assert (readings / "done" / "mixed.csv").exists()


def test_a_file_that_is_not_text_is_set_aside_whole_with_its_reason(tmp_path: Path) -> None:
    readings = tmp_path / "work" / "readings"
    readings.mkdir(parents=True)
    (readings / "binary.csv").write_bytes(b"\xff\xfe\x00garbage")
    assert serve_once(tmp_path) == 0
    assert (readings / "failed" / "binary.csv").read_bytes() == b"\xff\xfe\x00garbage"
    reason = json.loads((readings / "failed" / "binary.csv.error.json").read_text(encoding="utf-8"))
    assert reason["errors"][0]["error"].startswith("cannot read the file: 'utf-8' codec can't decode")
    assert not (tmp_path / "work" / "predictions" / "binary.csv.jsonl").exists()


def test_a_file_served_again_under_the_same_name_overwrites_nothing(tmp_path: Path) -> None:
    readings = tmp_path / "work" / "readings"
    readings.mkdir(parents=True)
    for rows in (ROWS[:2], ROWS[2:5]):
        (readings / "same.csv").write_text(readings_csv(rows), encoding="utf-8")
        assert serve_once(tmp_path) == 0
    assert len(served(tmp_path / "work", "same.csv")) == 2
    assert len(served(tmp_path / "work", "same.csv.1")) == 3
    assert sorted(p.name for p in (readings / "done").iterdir()) == ["same.1.csv", "same.csv"]


class FailingSink:
    def write(self, file: str, predictions: Sequence[Prediction]) -> None:
        raise OSError("no space left on device")


def test_predictions_that_cannot_be_delivered_leave_the_file_to_be_served_again(tmp_path: Path) -> None:
    readings = tmp_path / "readings"
    readings.mkdir()
    (readings / "kept.csv").write_text(readings_csv(ROWS[:3]), encoding="utf-8")
    server = Server(load(artifact(tmp_path, "ml_c5"), tmp_path / "work"), readings, FailingSink())
    assert server.run(threading.Event(), 1.0, once=True) == 0
    assert server.pending() == [readings / "kept.csv"]


def test_predictions_go_to_files_unless_greengrass_ipc_is_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Outside Greengrass, and inside it without the IPC SDK, predictions go to files
    assert isinstance(choose_sink("conveyor/predictions", tmp_path, {}), FileSink)
    monkeypatch.setitem(sys.modules, "awsiot", None)
    assert isinstance(choose_sink("conveyor/predictions", tmp_path, {IPC_SOCKET_VARIABLE: "/ipc.socket"}), FileSink)
    # With the nucleus's socket and the SDK, they are published on the topic
    published: list[dict[str, object]] = []
    client = types.ModuleType("clientv2")
    client.GreengrassCoreIPCClientV2 = lambda: types.SimpleNamespace(  # type: ignore[attr-defined]
        publish_to_topic=lambda **call: published.append(call)
    )
    model = types.ModuleType("model")
    model.PublishMessage = lambda json_message: {"json_message": json_message}  # type: ignore[attr-defined]
    model.JsonMessage = lambda message: {"message": message}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "awsiot", types.ModuleType("awsiot"))
    monkeypatch.setitem(sys.modules, "awsiot.greengrasscoreipc", types.ModuleType("greengrasscoreipc"))
    monkeypatch.setitem(sys.modules, "awsiot.greengrasscoreipc.clientv2", client)
    monkeypatch.setitem(sys.modules, "awsiot.greengrasscoreipc.model", model)
    sink = choose_sink("conveyor/predictions", tmp_path, {IPC_SOCKET_VARIABLE: "/ipc.socket"})
    assert isinstance(sink, IpcSink)
    sink.write("a.csv", [Prediction("a.csv", 1, 0.25)])
    message = {"file": "a.csv", "predictions": [{"file": "a.csv", "line": 1, "prediction": 0.25}]}
    assert published == [{"topic": "conveyor/predictions", "publish_message": {"json_message": {"message": message}}}]


def test_the_component_serves_files_as_they_appear_and_stops_on_sigterm(tmp_path: Path) -> None:
    # Given the component running as the recipe's Run step, polling every 0.1 s
    model = artifact(tmp_path, "ml_c5")
    work = tmp_path / "work"
    command = [sys.executable, "-S", "-m", "conveyor_inference", "serve", "--model", str(model), "--work", str(work)]
    command += ["--readings", "in", "--predictions", "out", "--poll-seconds", "0.1"]
    process = subprocess.Popen(command, env={"PYTHONPATH": str(COMPONENT)}, stderr=subprocess.PIPE, text=True)
    try:
        # When a readings file appears (written aside, then renamed)
        (work / "in").mkdir(parents=True, exist_ok=True)
        (work / "in" / ".arriving").write_text(readings_csv(ROWS[:3]), encoding="utf-8")
        (work / "in" / ".arriving").rename(work / "in" / "late.csv")
        output = work / "out" / "late.csv.jsonl"
        deadline = time.monotonic() + 30
        while not output.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        # Then its predictions come out; and SIGTERM ends the component cleanly
        assert output.exists(), "no predictions within 30 s"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert "SIGTERM: stopping after the file being served" in stderr
    assert len(output.read_text(encoding="utf-8").splitlines()) == 3
