"""A training job on its instances: hosts ``algo-1`` ... ``algo-n``, each training on its own folder.

The platform (the caller) has downloaded each host's share of the channels into the host's folder
(:mod:`localcloud.training.algorithm` describes it). Then, as SageMaker's XGBoost container does
(``algorithm_mode/train.py`` and ``distributed.py`` in aws/sagemaker-xgboost-container):

- A host whose share of the train channel is empty says so in its log and takes no part; the
  others train without it.
- If one host trains, it trains alone. Here it does so in this process: a one-instance job stays
  as fast as it always was.
- If several do, each runs in its own interpreter, started with multiprocessing's ``spawn`` (not
  a fork of this process, which has mocks and a scaled clock installed), reads only its own folder
  and joins the others through XGBoost's collective: an ``xgboost.tracker.RabitTracker`` here,
  ``xgboost.collective.CommunicatorContext`` in each host, ranks ordered by host name as the
  container orders its hosts. Rank 0 writes the model; the metrics are its final values of the
  distributed evaluation. Hosts share this machine's cores, so each trains with
  ``cpu_count // hosts`` threads: OpenMP threads spinning on a core that a peer needs make a
  2-host job ten times slower. As with any ``spawn``, each new interpreter first imports the
  parent's main module, unless it is a package's ``__main__`` (``python -m pytest``): a script
  that trains on several instances needs the ``if __name__ == "__main__":`` guard, and a console
  script such as ``conveyor-local`` costs each host the time of importing it.
- A host that fails writes its reason to ``output/failure``; the others are stopped and that
  reason, naming the host, is the job's.

A spot interruption stops every host halfway: rank 0's model is the checkpoint, saved and loaded
through the job's checkpoint location; every host then resumes from it, as SageMaker copies the
checkpoint to each instance.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import runpy
import shutil
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path

from xgboost.core import XGBoostError
from xgboost.tracker import RabitTracker

from localcloud.training.algorithm import (
    CHECKPOINT_FILE,
    MODEL_FILE,
    PATH,
    RUN_NAME,
    HostSpec,
    TrainingDataError,
    parameters,
    run_host,
)
from localcloud.training.jobs import TrainingOutcome, model_tarball

# Seconds the hosts may take to find each other (the tracker), or to answer each other once training.
COLLECTIVE_TIMEOUT = 120


class HostFailedError(Exception):
    """A host failed; the message is the job's FailureReason."""


@dataclass
class Host:
    name: str
    root: Path
    """Its folder (its ``/opt/ml``)."""
    files: dict[str, list[str]]
    """Each channel's files under ``input/data/<channel>/``, in channel order."""
    log: list[str] = field(default_factory=list)
    """What it logged, for its CloudWatch Logs stream."""


def train_on_hosts(
    hyperparameters: dict[str, str],
    hosts: list[Host],
    *,
    checkpoint: Callable[[bytes | None], bytes | None],
    interrupt: bool,
    now: Callable[[], datetime],
) -> TrainingOutcome:
    """Train on the hosts' folders; ``checkpoint(model)`` saves a checkpoint, ``checkpoint(None)`` loads one."""
    _, rounds = parameters(hyperparameters)
    if "train" not in hosts[0].files:
        raise TrainingDataError("the train channel is required")
    training = sorted((h for h in hosts if h.files["train"]), key=lambda h: h.name)
    if not training:
        raise TrainingDataError("channel train has no data")
    for host in hosts:
        if host not in training:
            host.log.append(f"Host {host.name} does not have data. It will not be used in distributed training.")
        elif len(training) > 1 and "validation" in host.files and not host.files["validation"]:
            raise TrainingDataError(
                f"host {host.name} got no object of the sharded validation channel; "
                "shard it into at least as many objects as instances, or replicate it (FullyReplicated)"
            )
    transitions = [("Starting", now().isoformat()), ("Downloading", now().isoformat()), ("Training", now().isoformat())]
    start = None
    if interrupt:
        halfway, _ = _run(training, hyperparameters, rounds // 2, None)
        checkpoint(halfway)
        transitions += [("Interrupted", now().isoformat()), ("Training", now().isoformat())]
        start = checkpoint(None)
    model, metrics = _run(training, hyperparameters, rounds, start)
    transitions += [("Uploading", now().isoformat()), ("Completed", now().isoformat())]
    return TrainingOutcome(metrics, model_tarball(model), transitions)


def _run(
    hosts: list[Host], hyperparameters: dict[str, str], rounds: int, start: bytes | None
) -> tuple[bytes, dict[str, float]]:
    """One run of the hosts until the model has ``rounds`` rounds: rank 0's model and metrics."""
    for host in hosts:
        _prepare(host, start)
    nthread = max(1, (os.cpu_count() or 1) // len(hosts))
    specs = [
        HostSpec(
            host=h.name,
            root=str(h.root),
            channels=h.files,
            hyperparameters=hyperparameters,
            rounds=rounds,
            nthread=nthread,
            collective=None,
        )
        for h in hosts
    ]
    if len(hosts) == 1:
        try:
            run_host(specs[0])
        finally:
            _collect_log(hosts[0])
    else:
        _run_spawned(hosts, specs)
    output = hosts[0].root / "output"
    metrics: dict[str, float] = json.loads((output / "metrics.json").read_text())
    return (hosts[0].root / "model" / MODEL_FILE).read_bytes(), metrics


def _run_spawned(hosts: list[Host], specs: list[HostSpec]) -> None:
    tracker = RabitTracker(n_workers=len(hosts), host_ip="127.0.0.1", sortby="task", timeout=COLLECTIVE_TIMEOUT)
    processes: list[BaseProcess] = []
    failed = None
    try:
        tracker.start()
        context = multiprocessing.get_context("spawn")
        for spec in specs:
            arguments: dict[str, str | int] = {**tracker.worker_args(), "dmlc_timeout": COLLECTIVE_TIMEOUT}
            spec["collective"] = {**arguments, "dmlc_task_id": spec["host"]}
            processes.append(
                context.Process(
                    target=runpy.run_path,
                    args=(str(PATH),),
                    kwargs={"init_globals": {"SPEC": spec}, "run_name": RUN_NAME},
                    name=spec["host"],
                    daemon=True,
                )
            )
            processes[-1].start()
        failed = _wait(processes)
        if failed is None:
            tracker.wait_for(COLLECTIVE_TIMEOUT)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()
        # Freeing a tracker whose hosts never all connected reports that; it is what failed, not news.
        with suppress(XGBoostError):
            tracker.free()
    for host in hosts:
        _collect_log(host)
    if failed is not None:
        raise HostFailedError(_reason(hosts[processes.index(failed)], failed))


def _wait(processes: list[BaseProcess]) -> BaseProcess | None:
    """Wait for every process to end; stop at the first that fails and return it."""
    running = list(processes)
    while running:
        ended = set(wait([p.sentinel for p in running]))
        for process in [p for p in running if p.sentinel in ended]:
            running.remove(process)
            process.join()
            if process.exitcode != 0:
                return process
    return None


def _reason(host: Host, process: BaseProcess) -> str:
    failure = host.root / "output" / "failure"
    if failure.exists():
        return f"{failure.read_text().strip()} (on {host.name})"
    return f"AlgorithmError: host {host.name} exited with code {process.exitcode}"


def _prepare(host: Host, start: bytes | None) -> None:
    """Clear what a previous run left, and put the checkpoint to resume from where the host finds it."""
    for folder in ("output", "model", "checkpoints"):
        shutil.rmtree(host.root / folder, ignore_errors=True)
    if start is not None:
        (host.root / "checkpoints").mkdir(parents=True)
        (host.root / "checkpoints" / CHECKPOINT_FILE).write_bytes(start)


def _collect_log(host: Host) -> None:
    log = host.root / "output" / "log"
    if log.exists():
        host.log += log.read_text().splitlines()
