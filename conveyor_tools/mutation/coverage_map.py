"""Which tests run each line of the mutated modules, and how long each test takes.

One run of the configured tests under coverage with a context per test (pytest-cov's
``--cov-context=test``) answers both: a mutant then runs only the tests that run one of its lines,
fastest first.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from coverage import CoverageData

from conveyor_tools.mutation.mutants import Mutant

TIMINGS_ENVIRONMENT = "CONVEYOR_MUTATION_TIMINGS"


@dataclass(frozen=True)
class TestMap:
    """Tests by the lines they run, per module path (relative to the repository)."""

    lines: dict[str, dict[int, set[str]]]
    durations: dict[str, float]
    longest: float = math.inf
    """Tests slower than this many seconds are left out: running one per mutant costs too much."""

    def tests_for(self, mutant: Mutant) -> list[str]:
        """The tests that run any line of ``mutant``, fastest first.

        Code run when its module is imported (a constant, a decorator, a class body such as a
        settings model's bounds, which pydantic checks without running a line of it) belongs to the
        test that happened to import it first, or to none. Its tests are every test of the test
        files that run the module; so are those of a line that only ever ran at import.
        """
        by_line = self.lines.get(mutant.path, {})
        found = {test for line in mutant.lines for test in by_line.get(line, set()) if test}
        ran_at_import = any("" in by_line.get(line, set()) for line in mutant.lines)
        if mutant.at_import or (ran_at_import and not found):
            files = {_file(test) for tests in by_line.values() for test in tests if test}
            found |= {test for test in self.durations if _file(test) in files}
        return sorted(
            (test for test in found if self.durations.get(test, 0.0) <= self.longest),
            key=lambda test: (self.durations.get(test, 0.0), test),
        )

    def too_slow(self) -> list[str]:
        return sorted(test for test, seconds in self.durations.items() if seconds > self.longest)

    def fastest_per_file(self) -> list[str]:
        """The quickest test of each test file: run once, they import and warm up what all the tests use."""
        fastest: dict[str, str] = {}
        for test in sorted(self.durations, key=self.durations.__getitem__):
            fastest.setdefault(_file(test), test)
        return sorted(fastest.values())


def measure(root: Path, tests: list[str], paths: list[str], workdir: Path, longest: float) -> TestMap:
    """Run ``tests`` once under coverage and map the lines of ``paths`` to the tests that run them."""
    workdir.mkdir(parents=True, exist_ok=True)
    data_file = workdir / "coverage"
    timings = workdir / "timings.json"
    for stale in workdir.glob("coverage*"):
        stale.unlink()
    sources = sorted({str(Path(path).parent) for path in paths})
    command = [
        sys.executable,
        "-m",
        "pytest",
        *tests,
        "-q",
        "-n",
        str(os.cpu_count() or 1),
        "-o",
        "addopts=-p no:cacheprovider",
        "-p",
        "conveyor_tools.mutation.timings",
        *[f"--cov={source}" for source in sources],
        "--cov-context=test",
        "--cov-report=",
        "--cov-fail-under=0",
    ]
    environment = os.environ | {"COVERAGE_FILE": str(data_file), TIMINGS_ENVIRONMENT: str(timings)}
    finished = subprocess.run(command, cwd=root, env=environment, check=False, capture_output=True, text=True)
    if finished.returncode != 0:
        raise RuntimeError(
            "the tests must pass before their mutants are run; "
            f"`{' '.join(command[2:])}` failed:\n{finished.stdout[-4000:]}{finished.stderr[-2000:]}"
        )
    return TestMap(_lines(data_file, root, paths), json.loads(timings.read_text()), longest)


def _lines(data_file: Path, root: Path, paths: list[str]) -> dict[str, dict[int, set[str]]]:
    data = CoverageData(str(data_file))
    data.read()
    lines: dict[str, dict[int, set[str]]] = {}
    for path in paths:
        by_line: dict[int, set[str]] = defaultdict(set)
        for line, contexts in data.contexts_by_lineno(str(root / path)).items():
            by_line[line] |= {_test_id(context) for context in contexts}
        lines[path] = dict(by_line)
    return lines


def _test_id(context: str) -> str:
    """pytest-cov names a context ``<node id>|setup``, ``|run`` or ``|teardown``; imports have ``""``."""
    return context.rpartition("|")[0] if "|" in context else context


def _file(test: str) -> str:
    return test.partition("::")[0]
