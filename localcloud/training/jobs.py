"""A training job's faults and outcome, and training on channels held in memory.

:func:`train` is the algorithm on one host without a folder: the benchmarks and the test stacks
train models with it. Training jobs go through :mod:`localcloud.training.cluster`.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from localcloud.training.algorithm import (
    MODEL_FILE,
    TrainingDataError,
    boost,
    check_data,
    evals_of,
    load_model,
    parameters,
    read_channel,
    save_model,
)


@dataclass
class TrainingFaults:
    """Faults a test can inject into the next training jobs."""

    fail_next: list[str] = field(default_factory=list)
    """Failure reasons, one per job, for the next jobs."""
    throttle_creates: int = 0
    """CreateTrainingJob calls to refuse with ThrottlingException before accepting one."""
    interrupt_spot: int = 0
    """Spot jobs to interrupt once halfway; they resume from their checkpoint."""
    during_next: list[Callable[[], None]] = field(default_factory=list)
    """Things that happen while the next jobs train, one per job (an intruder's call during a run)."""


@dataclass
class TrainingOutcome:
    metrics: dict[str, float]
    model_tarball: bytes
    transitions: list[tuple[str, str]]


def train(
    hyperparameters: dict[str, str],
    channels: dict[str, list[bytes]],
    *,
    checkpoint: Callable[[bytes | None], bytes | None],
    interrupt: bool,
    now: Callable[[], datetime],
) -> TrainingOutcome:
    """Train on the channels; ``checkpoint(model)`` saves a checkpoint, ``checkpoint(None)`` loads one."""
    params, rounds = parameters(hyperparameters)
    if "train" not in channels:
        raise TrainingDataError("the train channel is required")
    train_data = read_channel(channels["train"], "train")
    validation = read_channel(channels["validation"], "validation") if "validation" in channels else None
    check_data(params, train_data, validation)
    evals = evals_of(train_data, validation)
    transitions = [("Starting", now().isoformat()), ("Downloading", now().isoformat()), ("Training", now().isoformat())]
    start = None
    if interrupt:
        halfway, _ = boost(params, rounds // 2, evals)
        checkpoint(save_model(halfway))
        transitions += [("Interrupted", now().isoformat()), ("Training", now().isoformat())]
        saved = checkpoint(None)
        start = load_model(saved) if saved else None
    booster, metrics = boost(params, rounds, evals, start)
    transitions += [("Uploading", now().isoformat()), ("Completed", now().isoformat())]
    return TrainingOutcome(metrics, model_tarball(save_model(booster)), transitions)


def model_tarball(model: bytes) -> bytes:
    """``model.tar.gz`` holding ``xgboost-model``, as SageMaker uploads ``/opt/ml/model``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(MODEL_FILE)
        info.size = len(model)
        archive.addfile(info, io.BytesIO(model))
    return buffer.getvalue()
