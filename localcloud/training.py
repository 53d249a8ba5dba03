"""The local stand-in for SageMaker training with the built-in XGBoost algorithm.

It follows the built-in algorithm's contract: CSV channels ``train`` and ``validation`` with the
label in the first column and no header; hyperparameters as strings (``num_round`` required;
``max_depth``, ``eta``, ``objective``, ``eval_metric``, ...). It trains XGBoost for real, writes
``model.tar.gz`` holding ``xgboost-model`` under the job's output path, and reports the real
final metrics (``train:auc``, ``validation:auc``, ...). The model is saved in the format of the
installed XGBoost, not the legacy binary of the 1.3-1 container (see the README).
"""

from __future__ import annotations

import io
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

MODEL_FILE = "xgboost-model"
CHECKPOINT_FILE = "xgboost-checkpoint"
# Hyperparameters of the built-in algorithm passed straight to XGBoost, with their types.
NUMERIC = {
    "max_depth": int,
    "eta": float,
    "gamma": float,
    "min_child_weight": float,
    "subsample": float,
    "colsample_bytree": float,
    "lambda": float,
    "alpha": float,
    "scale_pos_weight": float,
    "seed": int,
}


class TrainingDataError(Exception):
    """The channels cannot be trained on (SageMaker reports these as ClientError)."""


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


def read_channel(objects: list[bytes], channel: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels and features of a channel's CSV objects (label first, no header)."""
    rows = [line for body in objects for line in body.decode("utf-8").splitlines() if line.strip()]
    if not rows:
        raise TrainingDataError(f"channel {channel} has no data")
    try:
        matrix = np.array([[float(cell) for cell in row.split(",")] for row in rows], dtype=np.float64)
    except ValueError as error:
        raise TrainingDataError(f"channel {channel} is not numeric CSV: {error}") from error
    return matrix[:, 0], matrix[:, 1:]


def parameters(hyperparameters: dict[str, str]) -> tuple[dict[str, Any], int]:
    """XGBoost parameters and the number of rounds from the job's string hyperparameters."""
    if "num_round" not in hyperparameters:
        raise TrainingDataError("hyperparameter num_round is required")
    params: dict[str, Any] = {"objective": hyperparameters.get("objective", "reg:squarederror"), "verbosity": 0}
    for name, kind in NUMERIC.items():
        if name in hyperparameters:
            params[name] = kind(hyperparameters[name])
    if "eval_metric" in hyperparameters:
        params["eval_metric"] = hyperparameters["eval_metric"].split(",")
    return params, int(hyperparameters["num_round"])


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
    labels, features = read_channel(channels["train"], "train")
    if params["objective"].startswith("binary:") and not set(np.unique(labels)) <= {0.0, 1.0}:
        raise TrainingDataError("binary objectives need labels 0 and 1 in the first column")
    dtrain = xgb.DMatrix(features, label=labels)
    evals = [(dtrain, "train")]
    if "validation" in channels:
        val_labels, val_features = read_channel(channels["validation"], "validation")
        if val_features.shape[1] != features.shape[1]:
            raise TrainingDataError("train and validation channels have different numbers of features")
        evals.append((xgb.DMatrix(val_features, label=val_labels), "validation"))
    transitions = [("Starting", now().isoformat()), ("Downloading", now().isoformat()), ("Training", now().isoformat())]
    history: dict[str, dict[str, list[float]]] = {}
    booster: xgb.Booster | None = None
    if interrupt:
        booster = xgb.train(params, dtrain, rounds // 2, evals=evals, verbose_eval=False)
        checkpoint(_save(booster))
        transitions += [("Interrupted", now().isoformat()), ("Training", now().isoformat())]
        saved = checkpoint(None)
        booster = _load(saved) if saved else None
    done = booster.num_boosted_rounds() if booster is not None else 0
    booster = xgb.train(
        params, dtrain, rounds - done, evals=evals, evals_result=history, verbose_eval=False, xgb_model=booster
    )
    metrics = {f"{data}:{metric}": float(values[-1]) for data, per in history.items() for metric, values in per.items()}
    transitions += [("Uploading", now().isoformat()), ("Completed", now().isoformat())]
    return TrainingOutcome(metrics, _tarball(_save(booster)), transitions)


def _save(booster: xgb.Booster) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{MODEL_FILE}.ubj"
        booster.save_model(path)
        return path.read_bytes()


def _load(raw: bytes) -> xgb.Booster:
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    return booster


def _tarball(model: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(MODEL_FILE)
        info.size = len(model)
        archive.addfile(info, io.BytesIO(model))
    return buffer.getvalue()
