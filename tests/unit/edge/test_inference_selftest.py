"""The component's Install step: ``selftest`` passes a good build and fails a wrong one, saying where."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conveyor_inference.cli import main
from conveyor_inference.model import install, load
from conveyor_inference.native import CompiledModel
from conveyor_inference.runner import RUNNER_VARIABLE, RunnerModel
from tests.localcloud.compilation_stack import feature_matrix
from tests.unit.edge.models import artifact, run_component, runner_for, selftest_file, xgboost_predictions

ROWS = feature_matrix(30)


def selftest_command(model: Path, selftest: Path, work: Path) -> list[str]:
    return ["selftest", "--model", str(model), "--selftest", str(selftest), "--work", str(work)]


def test_a_good_build_passes_its_selftest_in_process(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Given the x86_64 build and XGBoost's predictions for the self-test rows
    model = artifact(tmp_path, "ml_c5")
    selftest = selftest_file(tmp_path, ROWS, xgboost_predictions(ROWS).tolist())
    # When the device's Install step runs
    status = main(selftest_command(model, selftest, tmp_path / "work"))
    # Then it passes, having extracted the model into the work folder
    assert status == 0, caplog.text
    assert "self-test passed" in caplog.text
    assert list((tmp_path / "work" / "models").glob("*/compiled.so"))


def test_an_aarch64_build_passes_its_selftest_through_the_runner(tmp_path: Path) -> None:
    # Given the aarch64 build, and the runner the simulated fleet sets for a foreign device
    runner = runner_for("ARM64", tmp_path)
    model = artifact(tmp_path, "rasp4b")
    selftest = selftest_file(tmp_path, ROWS, xgboost_predictions(ROWS).tolist())
    # When the component runs its self-test as the device would
    done = run_component(*selftest_command(model, selftest, tmp_path / "work"), environment={RUNNER_VARIABLE: runner})
    # Then it passes
    assert done.returncode == 0, done.stderr
    assert "self-test passed" in done.stderr


def test_the_runner_backend_predicts_what_xgboost_predicts(tmp_path: Path) -> None:
    runner = runner_for("ARM64", tmp_path)
    model = load(artifact(tmp_path, "rasp4b"), tmp_path / "work", {RUNNER_VARIABLE: runner})
    assert isinstance(model, RunnerModel)
    np.testing.assert_allclose(np.array(model.predict(ROWS.tolist()))[:, 0], xgboost_predictions(ROWS), atol=1e-5)


def test_a_broken_build_fails_its_selftest_naming_row_expected_and_actual(tmp_path: Path) -> None:
    # Given a build whose base score is off by one (the Neo stand-in's broken_builds fault)
    model = artifact(tmp_path, "ml_c5", broken=True)
    expected = xgboost_predictions(ROWS).tolist()
    selftest = selftest_file(tmp_path, ROWS, expected)
    # When the device runs the self-test
    done = run_component(*selftest_command(model, selftest, tmp_path / "work"))
    # Then it fails at the first row, naming XGBoost's value, the model's and the tolerance
    assert done.returncode == 1
    assert f"row 0: expected {expected[0]!r}, the compiled model predicts " in done.stderr
    assert "tolerance 1e-05" in done.stderr


def test_a_wrong_expected_value_fails_the_selftest_at_its_row(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    model = artifact(tmp_path, "ml_c5")
    expected = xgboost_predictions(ROWS).tolist()
    expected[7] += 1e-3
    selftest = selftest_file(tmp_path, ROWS, expected)
    assert main(selftest_command(model, selftest, tmp_path / "work")) == 1
    assert f"row 7: expected {expected[7]!r}" in caplog.text


def test_a_difference_within_the_tolerance_passes(tmp_path: Path) -> None:
    model = artifact(tmp_path, "ml_c5")
    expected = (xgboost_predictions(ROWS) + 5e-4).tolist()
    selftest = selftest_file(tmp_path, ROWS, expected, tolerance=1e-3)
    assert main(selftest_command(model, selftest, tmp_path / "work")) == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rows": "none"}, 'rows is "none", not a list'),
        ({"rows": [[1.0, "a", 2.0, 3.0, 4.0, 5.0]]}, 'rows[0][1] is "a", not a number or null'),
        ({"expected": [0.5]}, "expected has 1 values for 30 rows"),
        ({"tolerance": -1}, "tolerance is -1.0, not a number of zero or more"),
    ],
)
def test_a_malformed_selftest_file_fails_naming_the_field(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, change: dict[str, object], message: str
) -> None:
    selftest = selftest_file(tmp_path, ROWS, xgboost_predictions(ROWS).tolist())
    selftest.write_text(json.dumps(json.loads(selftest.read_text()) | change), encoding="utf-8")
    assert main(selftest_command(artifact(tmp_path, "ml_c5"), selftest, tmp_path / "work")) == 2
    assert message in caplog.text


def test_rows_of_another_width_fail_the_selftest_naming_the_row(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    selftest = selftest_file(tmp_path, ROWS[:, :5], xgboost_predictions(ROWS).tolist())
    assert main(selftest_command(artifact(tmp_path, "ml_c5"), selftest, tmp_path / "work")) == 3
    assert "row 0 has 5 features, the model reads 6" in caplog.text


def test_an_artifact_that_is_no_model_fails_the_selftest(tmp_path: Path) -> None:
    model = tmp_path / "model-ml_c5.tar.gz"
    model.write_bytes(b"not a tarball")
    selftest = selftest_file(tmp_path, ROWS, xgboost_predictions(ROWS).tolist())
    done = run_component(*selftest_command(model, selftest, tmp_path / "work"))
    assert done.returncode == 3
    assert f"the model {model} cannot be used: the model artifact is not a gzip compressed tar archive" in done.stderr


def test_each_model_version_loads_from_its_own_path(tmp_path: Path) -> None:
    # Given two versions of the model (a broken build, then its fix) installed in one process
    broken = install(artifact(tmp_path / "v1", "ml_c5", broken=True), tmp_path / "work")
    fixed = install(artifact(tmp_path / "v2", "ml_c5"), tmp_path / "work")
    # Then they never share a path, installing one again finds the same one, and each predicts its own
    assert broken != fixed
    assert install(artifact(tmp_path / "v3", "ml_c5"), tmp_path / "work") == fixed
    expected = xgboost_predictions(ROWS)
    assert np.abs(np.array(CompiledModel(broken).predict(ROWS.tolist()))[:, 0] - expected).min() > 1e-4
    np.testing.assert_allclose(np.array(CompiledModel(fixed).predict(ROWS.tolist()))[:, 0], expected, atol=1e-5)
