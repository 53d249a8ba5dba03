"""A pytest plugin for the coverage run of ``make mutation``: each test's seconds, into a JSON file."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

from conveyor_tools.mutation.coverage_map import TIMINGS_ENVIRONMENT

_seconds: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _seconds[report.nodeid] += report.duration  # setup, call and teardown


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get(TIMINGS_ENVIRONMENT)
    # Under xdist every worker loads the plugin too; the controller alone sees every report.
    if target and not hasattr(session.config, "workerinput"):
        Path(target).write_text(json.dumps(_seconds))
