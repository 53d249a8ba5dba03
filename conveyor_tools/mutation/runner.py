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
from collections.abc import Callable, Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from conveyor_tools.mutation.mutants import Mutant, mutated_code

Outcome = Literal["killed", "survived", "timeout", "error"]
# pytest's exit codes: 0 all passed, 1 some failed, 2 interrupted (a collection error: the mutant broke
# an import), 3 internal error, 4 usage error, 5 no tests collected.
_OUTCOMES: dict[int, Outcome] = {0: "survived", 1: "killed", 2: "killed"}
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
    """A mutant (None: the module as it is), the tests to run against it, and its deadline in seconds."""

    mutant: Mutant | None
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
    """Run ``jobs`` in at most ``workers`` forked children at once; their results in job order."""
    results: dict[int, Result] = {}
    running: dict[int, tuple[int, Job, float]] = {}
    queue = iter(enumerate(jobs))
    for position, job in queue:
        while len(running) >= workers:
            _reap(running, results, progress)
        running[_fork(job, root)] = (position, job, time.monotonic())
    while running:
        _reap(running, results, progress)
    return [results[position] for position in range(len(jobs))]


def _fork(job: Job, root: Path) -> int:
    pid = os.fork()
    if pid == 0:  # the child: it never returns
        code = 3
        try:
            code = _run_in_child(job, root)
        finally:
            os._exit(code)
    return pid


def _run_in_child(job: Job, root: Path) -> int:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    if job.mutant is not None:
        _load_instead(job.path, mutated_code(job.path, job.mutant.index))
    os.chdir(root)
    return int(pytest.main([*job.tests, *_PYTEST_OPTIONS]))


def _reap(
    running: dict[int, tuple[int, Job, float]], results: dict[int, Result], progress: Callable[[Result], None]
) -> None:
    for pid, outcome in _finished(running):
        position, job, started = running.pop(pid)
        result = Result(job, outcome, time.monotonic() - started)
        results[position] = result
        progress(result)


def _finished(running: dict[int, tuple[int, Job, float]]) -> Iterator[tuple[int, Outcome]]:
    while True:
        now = time.monotonic()
        for pid, (_, job, started) in list(running.items()):
            if now - started > job.timeout:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                yield pid, "timeout"
                return
        for pid in list(running):
            finished, status = os.waitpid(pid, os.WNOHANG)
            if finished:
                yield pid, _OUTCOMES.get(os.waitstatus_to_exitcode(status), "error")
                return
        time.sleep(0.01)


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
