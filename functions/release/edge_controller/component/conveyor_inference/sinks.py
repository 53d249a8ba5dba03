"""Where predictions go: Greengrass IPC on a core device, JSON lines files anywhere else.

The IPC SDK (``awsiotsdk``) is not a dependency: it is imported only when the nucleus has given
this component its IPC socket, and only if the device has the SDK.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

IPC_SOCKET_VARIABLE = "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"
IPC_CLIENT_MODULE = "awsiot.greengrasscoreipc.clientv2"
IPC_MODEL_MODULE = "awsiot.greengrasscoreipc.model"


@dataclass(frozen=True)
class Prediction:
    """The prediction for one line of a readings file: one value, or one per class."""

    file: str
    line: int
    prediction: float | list[float]


class Sink(Protocol):
    def write(self, file: str, predictions: Sequence[Prediction]) -> None:
        """Deliver the predictions of one readings file, all or none (an error leaves the file to retry)."""
        ...


class FileSink:
    """``<folder>/<readings file>.jsonl``: one JSON object (file, line, prediction) a line, written whole."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def write(self, file: str, predictions: Sequence[Prediction]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = free_path(self.folder / f"{file}.jsonl")
        staging = self.folder / f".{target.name}.partial"
        staging.write_text("".join(json.dumps(asdict(p)) + "\n" for p in predictions), encoding="utf-8")
        os.replace(staging, target)


class IpcSink:
    """One local publish/subscribe message per readings file: ``{"file", "predictions": [...]}``."""

    def __init__(self, topic: str, client_module: Any, model_module: Any) -> None:
        self.topic = topic
        self._client = client_module.GreengrassCoreIPCClientV2()
        self._model = model_module

    def write(self, file: str, predictions: Sequence[Prediction]) -> None:
        message = {"file": file, "predictions": [asdict(p) for p in predictions]}
        publish = self._model.PublishMessage(json_message=self._model.JsonMessage(message=message))
        self._client.publish_to_topic(topic=self.topic, publish_message=publish)


def choose_sink(topic: str, predictions: Path, environment: Mapping[str, str] = os.environ) -> Sink:
    """Greengrass IPC when the nucleus runs this component and the SDK is installed, else files in ``predictions``."""
    if environment.get(IPC_SOCKET_VARIABLE):
        try:
            client_module = importlib.import_module(IPC_CLIENT_MODULE)
            model_module = importlib.import_module(IPC_MODEL_MODULE)
        except ImportError as error:
            logging.getLogger(__name__).warning("no Greengrass IPC (%s): predictions go to %s", error, predictions)
            return FileSink(predictions)
        return IpcSink(topic, client_module, model_module)
    return FileSink(predictions)


def free_path(path: Path) -> Path:
    """``path``, or ``<stem>.<n><suffix>`` for the first ``n`` free: nothing is ever overwritten."""
    candidate, number = path, 0
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}.{number}{path.suffix}")
    return candidate
