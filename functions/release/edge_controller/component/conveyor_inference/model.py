"""The model the component serves: installed from its artifact into the work folder, and loaded.

Each version is extracted into a folder named by its tarball's digest, so two versions never share
a path (glibc loads a path once per process, whatever the file holds by then).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from .native import LIBRARY_FILE, CompiledModel, CompiledModelError, extract
from .runner import RUNNER_VARIABLE, RunnerModel

MODELS_FOLDER = "models"


class Model(Protocol):
    """What the component needs of a model, however it runs."""

    @property
    def num_feature(self) -> int:
        """Features each row must have, in the model's order."""
        ...

    def predict(self, rows: Sequence[Sequence[float]], *, margin: bool = False) -> list[list[float]]:
        """One list of predictions per row (NaN for a missing feature value)."""
        ...


def install(artifact: Path, work: Path) -> Path:
    """Extract the Neo output tarball ``artifact`` under ``work/models/<digest>/``; the library's path."""
    try:
        tarball = artifact.read_bytes()
    except OSError as error:
        raise CompiledModelError(f"cannot read the model artifact {artifact}: {error.strerror}") from error
    models = work / MODELS_FOLDER
    folder = models / hashlib.sha256(tarball).hexdigest()[:16]
    if (folder / LIBRARY_FILE).is_file():
        return folder / LIBRARY_FILE
    models.mkdir(parents=True, exist_ok=True)
    # Extract beside, then rename: a crash mid-way never leaves a half-written version in place.
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=models))
    try:
        extract(tarball, staging)
        os.replace(staging, folder)
    except OSError:
        if not (folder / LIBRARY_FILE).is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder / LIBRARY_FILE


def load(artifact: Path, work: Path, environment: Mapping[str, str] = os.environ) -> Model:
    """The model of ``artifact``: through the runner that ``CONVEYOR_NATIVE_RUNNER`` names, else in process."""
    library = install(artifact, work)
    runner = environment.get(RUNNER_VARIABLE, "").strip()
    if runner:
        return RunnerModel(shlex.split(runner), library)
    return CompiledModel(library)
