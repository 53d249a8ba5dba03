"""The built-in XGBoost algorithm as it runs on one training host.

It follows the built-in algorithm's contract: CSV channels ``train`` and ``validation`` with the
label in the first column and no header; hyperparameters as strings (``num_round`` required;
``max_depth``, ``eta``, ``objective``, ``eval_metric``, ...).

A host's folder stands for ``/opt/ml`` on a SageMaker instance::

    input/data/<channel>/<file>      what the platform downloaded for this host
    checkpoints/xgboost-checkpoint   the model to resume from, if any
    model/xgboost-model              the model (the first host only, as SageMaker's container does)
    output/metrics.json              the final metrics (the first host only)
    output/failure                   why the host failed: the job's FailureReason
    output/log                       what the host printed: its CloudWatch Logs stream

A host of a multi-instance job runs :func:`host_main` in a spawned interpreter, which runs this
file by path (``runpy.run_path(PATH, init_globals={"SPEC": spec}, run_name=RUN_NAME)``) rather
than importing it: importing ``localcloud`` would load moto (seconds per host) into what should be
a clean interpreter. So this module imports nothing from ``localcloud``; the parent imports it as
:mod:`localcloud.training.algorithm` for the same code.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import xgboost as xgb
from xgboost import collective

MODEL_FILE = "xgboost-model"
CHECKPOINT_FILE = "xgboost-checkpoint"
PATH = Path(__file__)
RUN_NAME = "__training_host__"
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

Matrix = tuple[np.ndarray, np.ndarray]
"""Labels and features of a channel."""


class TrainingDataError(Exception):
    """The channels cannot be trained on (SageMaker reports these as ClientError)."""


class HostSpec(TypedDict):
    """What a host is told (plain data: it crosses into a spawned interpreter)."""

    host: str
    root: str
    """The host's folder (its ``/opt/ml``)."""
    channels: dict[str, list[str]]
    """Each channel's files under ``input/data/<channel>/``, in channel order."""
    hyperparameters: dict[str, str]
    rounds: int
    """The rounds the model has when this run ends (``num_round``, or fewer before an interruption)."""
    nthread: int
    collective: dict[str, str | int] | None
    """Arguments of XGBoost's collective (the tracker's, plus ``dmlc_task_id``), or None to train alone."""


def lines_of(body: bytes) -> list[str]:
    """The CSV rows of one object (blank lines are not rows)."""
    return [line for line in body.decode("utf-8").splitlines() if line.strip()]


def read_channel(objects: list[bytes], channel: str) -> Matrix:
    """Labels and features of a channel's CSV objects (label first, no header)."""
    rows = [line for body in objects for line in lines_of(body)]
    if not rows:
        raise TrainingDataError(f"channel {channel} has no data")
    try:
        # An empty cell is a missing value, as the container's CSV reader (XGBoost's) reads it
        matrix = np.array([[float(cell) if cell else math.nan for cell in row.split(",")] for row in rows])
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


def check_data(params: dict[str, Any], train: Matrix, validation: Matrix | None) -> None:
    """Refuse data the objective cannot learn from, or a validation channel of other features."""
    if params["objective"].startswith("binary:") and not set(np.unique(train[0])) <= {0.0, 1.0}:
        raise TrainingDataError("binary objectives need labels 0 and 1 in the first column")
    if validation is not None and validation[1].shape[1] != train[1].shape[1]:
        raise TrainingDataError("train and validation channels have different numbers of features")


def evals_of(train: Matrix, validation: Matrix | None, nthread: int = 0) -> list[tuple[xgb.DMatrix, str]]:
    """The watchlist: ``train`` first (the matrix trained on), then ``validation`` if given."""
    evals = [(xgb.DMatrix(train[1], label=train[0], nthread=nthread), "train")]
    if validation is not None:
        evals.append((xgb.DMatrix(validation[1], label=validation[0], nthread=nthread), "validation"))
    return evals


def boost(
    params: dict[str, Any], rounds: int, evals: list[tuple[xgb.DMatrix, str]], start: xgb.Booster | None = None
) -> tuple[xgb.Booster, dict[str, float]]:
    """Train until the model has ``rounds`` rounds (from ``start``); the model and its final metrics."""
    history: dict[str, dict[str, list[float]]] = {}
    done = start.num_boosted_rounds() if start is not None else 0
    booster = xgb.train(
        params, evals[0][0], rounds - done, evals=evals, evals_result=history, verbose_eval=False, xgb_model=start
    )
    metrics = {f"{data}:{metric}": float(values[-1]) for data, per in history.items() for metric, values in per.items()}
    return booster, metrics


def save_model(booster: xgb.Booster) -> bytes:
    """The model as the algorithm saves it (UBJSON, the installed XGBoost's format)."""
    return bytes(booster.save_raw("ubj"))


def load_model(raw: bytes) -> xgb.Booster:
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    return booster


def run_host(spec: HostSpec) -> None:
    """Train on the host's own folder; join the others through the collective if there are others."""
    root = Path(spec["root"])
    (root / "output").mkdir(parents=True, exist_ok=True)
    log = _Log(root / "output" / "log")
    params, _ = parameters(spec["hyperparameters"])
    params["nthread"] = spec["nthread"]
    files = spec["channels"]
    if "train" not in files:
        raise TrainingDataError("the train channel is required")
    train = _read_folder(root, "train", files["train"], log)
    validation = _read_folder(root, "validation", files["validation"], log) if "validation" in files else None
    check_data(params, train, validation)
    saved = root / "checkpoints" / CHECKPOINT_FILE
    start = load_model(saved.read_bytes()) if saved.exists() else None
    if start is not None:
        log.say(f"Resuming from the checkpoint at round {start.num_boosted_rounds()}")
    if spec["collective"] is None:
        log.say("Single node training.")
        _train(spec, params, train=train, validation=validation, start=start, log=log, first=True)
        return
    with collective.CommunicatorContext(**spec["collective"]):
        rank, size = collective.get_rank(), collective.get_world_size()
        log.say(f"Distributed training: process {os.getpid()} is rank {rank} of {size}")
        _train(spec, params, train=train, validation=validation, start=start, log=log, first=rank == 0)


def host_main(spec: HostSpec) -> None:
    """A spawned host: :func:`run_host`, its failure written to ``output/failure`` as SageMaker reads it."""
    failure = Path(spec["root"]) / "output" / "failure"
    try:
        run_host(spec)
    except TrainingDataError as error:
        failure.write_text(f"ClientError: {error}")
        sys.exit(1)
    except xgb.core.XGBoostError as error:
        failure.write_text(f"AlgorithmError: {str(error).strip().splitlines()[0]}")
        sys.exit(1)


def _train(
    spec: HostSpec,
    params: dict[str, Any],
    *,
    train: Matrix,
    validation: Matrix | None,
    start: xgb.Booster | None,
    log: _Log,
    first: bool,
) -> None:
    root = Path(spec["root"])
    evals = evals_of(train, validation, spec["nthread"])
    for matrix, name in evals:
        log.say(f"{name.capitalize()} matrix has {matrix.num_row()} rows")
    booster, metrics = boost(params, spec["rounds"], evals, start)
    log.say(f"Round {booster.num_boosted_rounds()}: " + ", ".join(f"{k}={v:.6f}" for k, v in sorted(metrics.items())))
    if first:
        (root / "model").mkdir(exist_ok=True)
        (root / "model" / MODEL_FILE).write_bytes(save_model(booster))
        (root / "output" / "metrics.json").write_text(json.dumps(metrics))


def _read_folder(root: Path, channel: str, files: list[str], log: _Log) -> Matrix:
    """A channel's data from this host's folder (other channels are downloaded but not read)."""
    bodies = []
    for name in files:
        path = root / "input" / "data" / channel / name
        bodies.append(path.read_bytes())
        log.say(f"Read /opt/ml/input/data/{channel}/{name}: {len(lines_of(bodies[-1]))} rows")
    return read_channel(bodies, channel)


class _Log:
    """Lines appended to the host's log file as they happen."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def say(self, line: str) -> None:
        with self._path.open("a", encoding="utf-8") as file:
            file.write(line + "\n")


if __name__ == RUN_NAME:
    host_main(globals()["SPEC"])
