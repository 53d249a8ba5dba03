"""The repository's paths and the deployed-stack fixture; test helpers are in tests/helpers.py."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# XGBoost's OpenMP threads spin while they wait for a core: beside the local cloud's threads and
# whatever else runs on a 2-core machine, a 60-round training job took 1.4-3 s instead of 0.15 s.
# Set before localcloud imports XGBoost (libgomp reads it once, on load); the models are the same.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# The edge inference component, imported by name as on a device (the recipe puts its folder on
# PYTHONPATH); an install of pyproject.toml maps it too, this covers a checkout run in place.
sys.path.append(str(Path(__file__).resolve().parent.parent / "functions/release/edge_controller/component"))

from localcloud import LocalCloud

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
FUNCTIONS = ROOT / "functions"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# One folder per function, grouped by flow: functions/<flow>/<function>/app.py.
FUNCTION_FOLDERS = sorted(app.parent for app in FUNCTIONS.glob("*/*/app.py"))

# Logic modules are imported by name, as each function's handler does in Lambda.
for function_folder in FUNCTION_FOLDERS:
    if str(function_folder) not in sys.path:
        sys.path.append(str(function_folder))


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    """The stack of template.yaml, freshly deployed into the local cloud."""
    with LocalCloud.from_template(TEMPLATE) as deployed:
        yield deployed
