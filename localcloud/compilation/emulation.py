"""Run a compiled library of any architecture here: a small C runner, qemu-user where needed.

``predict_csv`` (``native/predict_csv.c``) loads the library with dlopen and predicts rows of CSV
from standard input. It is built with the library's own gcc, so it runs wherever the library
does: natively on this machine's architecture, under ``qemu-<arch>`` (with the cross C library as
its root, ``-L /usr/<triplet>``) on the others. Simulated devices use it to self-test and serve.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import numpy.typing as npt

from localcloud.compilation.targets import ARCHITECTURES

RUNNER_SOURCE = Path(__file__).resolve().parent / "native" / "predict_csv.c"
RUN_TIMEOUT_SECONDS = 60


class ToolMissingError(Exception):
    """A tool this needs is not installed; ``tool`` and ``package`` name it and where it comes from."""

    def __init__(self, tool: str, package: str) -> None:
        super().__init__(f"{tool} is not installed (apt-get install {package})")
        self.tool = tool
        self.package = package


class RunnerError(Exception):
    """The runner refused the library or the rows (its exit status and what it wrote to stderr)."""


def missing_tools(arch: str) -> list[ToolMissingError]:
    """What is missing to build for ``arch`` and run the result here (nothing: all is installed)."""
    architecture = ARCHITECTURES[arch]
    missing = [ToolMissingError(tool, package) for tool, package in architecture.missing_build_tools()]
    if not architecture.native and shutil.which(architecture.qemu) is None:
        missing.append(ToolMissingError(architecture.qemu, "qemu-user"))
    return missing


def build_runner(arch: str, folder: str | Path) -> Path:
    """Build ``predict_csv`` for ``arch`` into ``folder``; raise the first :class:`ToolMissingError`."""
    architecture = ARCHITECTURES[arch]
    missing = missing_tools(arch)
    if missing:
        raise missing[0]
    runner = Path(folder) / f"predict_csv-{arch.lower()}"
    command = [architecture.compiler, "-O2", "-std=gnu99", "-o", str(runner), str(RUNNER_SOURCE), "-ldl"]
    subprocess.run(command, capture_output=True, text=True, check=True, timeout=RUN_TIMEOUT_SECONDS)
    return runner


def command(arch: str, runner: Path, library: Path, *, margin: bool = False) -> list[str]:
    """The command line that runs ``runner`` (built for ``arch``) on ``library``, under qemu if needed."""
    architecture = ARCHITECTURES[arch]
    emulator = [] if architecture.native else [architecture.qemu, "-L", str(architecture.sysroot)]
    return [*emulator, str(runner), str(library), *(["--margin"] if margin else [])]


def predict(
    arch: str, runner: Path, library: Path, rows: npt.ArrayLike, *, margin: bool = False
) -> npt.NDArray[np.float32]:
    """Predictions of ``library`` (built for ``arch``) for ``rows``, through the runner: one value
    per row, or one row of values per row for a multi-output model."""
    matrix = np.asarray(rows, dtype=np.float64)
    if matrix.ndim == 1:
        matrix = matrix.reshape(1, -1)
    lines = "".join(",".join("" if np.isnan(v) else repr(float(v)) for v in row) + "\n" for row in matrix)
    done = subprocess.run(
        command(arch, runner, library, margin=margin),
        input=lines,
        capture_output=True,
        text=True,
        check=False,
        timeout=RUN_TIMEOUT_SECONDS,
    )
    if done.returncode != 0:
        raise RunnerError(f"predict_csv exited {done.returncode}: {done.stderr.strip()}")
    values = np.array([[float(v) for v in line.split(",")] for line in done.stdout.splitlines()], dtype=np.float32)
    return values[:, 0] if values.shape[1:] == (1,) else values
