"""Real compiled models for the edge component's tests: a small XGBoost model, built by the Neo stand-in."""

from __future__ import annotations

import functools
import json
import math
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from localcloud.compilation import emulation
from localcloud.compilation.compiler import compile_model
from localcloud.compilation.targets import resolve
from localcloud.hosting.container import load_model
from tests.conftest import ROOT
from tests.localcloud.compilation_stack import model_tarball

COMPONENT = ROOT / "functions" / "release" / "edge_controller" / "component"
DEVICES = {"X86_64": "ml_c5", "ARM64": "rasp4b"}


@functools.cache
def compiled(device: str, *, broken: bool = False) -> bytes:
    """The Neo stand-in's output tarball for ``device`` (wrong on purpose with ``broken``)."""
    return compile_model(model_tarball(), resolve({"TargetDevice": device}), broken=broken).tarball


def artifact(folder: Path, device: str, *, broken: bool = False) -> Path:
    """``model-<device>.tar.gz`` in ``folder``, as Greengrass puts the component's artifact."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"model-{device}.tar.gz"
    path.write_bytes(compiled(device, broken=broken))
    return path


def xgboost_predictions(rows: np.ndarray) -> np.ndarray:
    """What XGBoost predicts for ``rows``: ``Booster.inplace_predict`` on the model that was compiled."""
    return np.asarray(load_model(model_tarball()).inplace_predict(rows))


def selftest_file(folder: Path, rows: np.ndarray, expected: list[Any], tolerance: float = 1e-5) -> Path:
    """``selftest.json`` as the publisher writes it: rows with null for a missing value."""
    document = {
        "rows": [[None if math.isnan(v) else float(v) for v in row] for row in rows],
        "expected": expected,
        "tolerance": tolerance,
    }
    path = folder / "selftest.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def readings_csv(rows: np.ndarray) -> str:
    """Rows as a readings file: features only, an empty cell for a missing value."""
    return "".join(",".join("" if math.isnan(v) else repr(float(v)) for v in row) + "\n" for row in rows)


def runner_for(arch: str, folder: Path) -> str:
    """``CONVEYOR_NATIVE_RUNNER`` for a device of ``arch``: the C runner, under qemu-user if foreign; skips,
    naming the tool, when this machine cannot build or run it."""
    missing = emulation.missing_tools(arch)
    if missing:
        pytest.skip("; ".join(str(m) for m in missing))
    runner = emulation.build_runner(arch, folder)
    return shlex.join(emulation.command(arch, runner, Path("LIBRARY"))[:-1])


def run_component(*arguments: str, environment: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python3 -m conveyor_inference ...`` as the recipe runs it: the component's folder on PYTHONPATH,
    no site-packages (``-S``), so it proves the component needs the standard library only."""
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(COMPONENT), **(environment or {})}
    return subprocess.run(
        [sys.executable, "-S", "-m", "conveyor_inference", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
