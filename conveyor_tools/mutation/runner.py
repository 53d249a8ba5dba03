"""Run each mutant against the tests that cover it, in forked processes, a few at a time.

The parent imports the tests' third-party libraries once (boto3, moto, pytest, XGBoost: seconds of
imports), then forgets the project's own modules. Each mutant runs in a child forked from it: the
child compiles the mutated module in place of the file's code whenever it is imported, so the
tests, the handlers the local cloud loads and everything between them see the mutant, and runs
pytest on the covering tests, stopping at the first failure. A test failing kills the mutant; a
child still running at its deadline (a mutant that loops) is killed too, and counts as killed.
"""

from __future__ import annotations

import gc
import importlib.machinery
import os
import signal
import sys
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from conveyor_tools.mutation.mutants import Mutant, mutated_code

Outcome = Literal["killed", "survived", "timeout", "error"]
# pytest's exit codes: 0 all passed, 1 some failed, 2 interrupted (a collection error: the mutant broke
# an import), 3 internal error (the mutant broke a hook), 4 usage error (it broke a conftest's import),
# 5 no tests collected (the harness's fault: an error, counted as not killed).
_OUTCOMES: dict[int, Outcome] = {0: "survived", 1: "killed", 2: "killed", 3: "killed", 4: "killed"}
_PYTEST_OPTIONS = [
    "-x",
    "-q",
    "--no-header",
    "-o",
    "addopts=",
    "-p",
    "no:cacheprovider",
    "-p",
    "no:cov",
    "-p",
    "no:xdist",
    "-p",
    "no:randomly",
]


@dataclass(frozen=True)
class Job:
    """A mutant, the tests to run against it, and its deadline in seconds."""

    mutant: Mutant
    path: Path
    tests: list[str]
    timeout: float


@dataclass(frozen=True)
class Result:
    job: Job
    outcome: Outcome
    seconds: float


def preload(root: Path, tests: list[str], cache: Path) -> None:
    """Run ``tests`` once here, so every child starts warm, then forget the project's own modules.

    The run imports every library the tests use, fills the caches the local cloud keeps per
    process (the parsed template, the service models) and leaves each module compiled (pytest's
    rewritten test modules too) in ``cache``: a child only reads them. The objects left are frozen
    out of the garbage collector, so each child's collections skip them.
    """
    sys.pycache_prefix = str(cache)
    sys.dont_write_bytecode = False
    os.chdir(root)
    with open(os.devnull, "w") as devnull, redirect_stdout(devnull):
        pytest.main([*tests, *_PYTEST_OPTIONS])
    _forget_project_modules(root)
    gc.collect()
    gc.freeze()


def run(jobs: list[Job], root: Path, workers: int, progress: Callable[[Result], None]) -> list[Result]:
    """Run ``jobs`` in at most ``workers`` forked children at once; their results in job order.

    A test that killed a mutant runs first for the next mutants of the same function: a mutant is
    most often killed by the test that killed its neighbours.
    """
    pool = _Pool(root, progress)
    for position, job in enumerate(jobs):
        while len(pool.running) >= workers:
            pool.reap()
        pool.fork(position, job)
    while pool.running:
        pool.reap()
    return [pool.results[position] for position in range(len(jobs))]


@dataclass
class _Running:
    position: int
    job: Job
    started: float


class _Pool:
    def __init__(self, root: Path, progress: Callable[[Result], None]) -> None:
        self.root = root
        self.progress = progress
        self.running: dict[int, _Running] = {}
        self.results: dict[int, Result] = {}
        self.killers: dict[tuple[str, str], list[str]] = {}
        self.failures = root / "build" / "mutation" / "failures"
        self.failures.mkdir(parents=True, exist_ok=True)

    def fork(self, position: int, job: Job) -> None:
        killers = self.killers.get(_function_of(job), [])
        tests = [test for test in killers if test in job.tests]
        tests += [test for test in job.tests if test not in tests]
        pid = os.fork()
        if pid == 0:  # the child: it never returns
            code = 3
            try:
                code = _run_in_child(job.mutant, job.path, tests, self.root, self.failures)
            finally:
                os._exit(code)
        self.running[pid] = _Running(position, job, time.monotonic())

    def reap(self) -> None:
        pid, outcome = self._next_finished()
        running = self.running.pop(pid)
        failure = self.failures / str(pid)
        if failure.exists():
            killer = failure.read_text()
            failure.unlink()
            function = _function_of(running.job)
            earlier = [test for test in self.killers.get(function, []) if test != killer]
            self.killers[function] = [killer, *earlier][:3]
        result = Result(running.job, outcome, time.monotonic() - running.started)
        self.results[running.position] = result
        self.progress(result)

    def _next_finished(self) -> tuple[int, Outcome]:
        while True:
            now = time.monotonic()
            for pid, running in self.running.items():
                if now - running.started > running.job.timeout:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    return pid, "timeout"
            for pid in self.running:
                finished, status = os.waitpid(pid, os.WNOHANG)
                if finished:
                    return pid, _OUTCOMES.get(os.waitstatus_to_exitcode(status), "error")
            time.sleep(0.01)


def _function_of(job: Job) -> tuple[str, str]:
    return (str(job.path), job.mutant.function)


class _FirstFailure:
    """A pytest plugin in the child: the first failing test's id, into a file the parent reads."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed and not self.path.exists():
            self.path.write_text(report.nodeid)


def _run_in_child(mutant: Mutant, path: Path, tests: list[str], root: Path, failures: Path) -> int:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    _load_instead(path, mutated_code(path, mutant.index))
    os.chdir(root)
    first_failure = _FirstFailure(failures / str(os.getpid()))
    return int(pytest.main([*tests, *_PYTEST_OPTIONS], plugins=[first_failure]))


def _load_instead(path: Path, code: object) -> None:
    """Make every import of the module at ``path`` run ``code`` instead of the file's own."""
    target = os.path.realpath(path)
    original = importlib.machinery.SourceFileLoader.get_code

    def get_code(loader: importlib.machinery.SourceFileLoader, fullname: str) -> object:
        if os.path.realpath(loader.path) == target:
            return code
        return original(loader, fullname)

    importlib.machinery.SourceFileLoader.get_code = get_code  # type: ignore[assignment,method-assign]


def _forget_project_modules(root: Path) -> None:
    """Drop the project's modules from ``sys.modules``, so the next import runs them again.

    The local cloud stays: it is the emulator, never mutated, and it patches moto once on import.
    """
    kept = [root / ".venv", root / ".tools", root / "localcloud", root / "conveyor_tools" / "mutation"]
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not file or name == "__main__":
            continue
        path = Path(file).resolve()
        if path.is_relative_to(root) and not any(path.is_relative_to(folder) for folder in kept):
            del sys.modules[name]
