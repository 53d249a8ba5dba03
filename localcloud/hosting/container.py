"""The local stand-in for the built-in XGBoost algorithm's inference container.

It follows the container's contract (aws/sagemaker-xgboost-container, ``algorithm_mode/serve.py``):
the model is the one file of ``model.tar.gz`` (``xgboost-model``); a ``text/csv`` request holds
rows of features, no label and no header, an empty cell being a missing value; the answer is
``text/csv`` with one prediction per line. Data it cannot read is answered with HTTP 415, data
the model cannot evaluate with 400, as the container answers them; SageMaker passes such answers
to the caller as a ``ModelError``.
"""

from __future__ import annotations

import io
import tarfile
from email.message import Message

import numpy as np
import xgboost as xgb

from localcloud.training import MODEL_FILE

CSV = "text/csv"
RESPONSE_CONTENT_TYPE = "text/csv; charset=utf-8"


class ModelLoadError(Exception):
    """The model artifact is not a ``model.tar.gz`` holding an XGBoost model."""


class ContainerError(Exception):
    """The container answered with an HTTP error status (``status``) and a message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def load_model(tarball: bytes) -> xgb.Booster:
    """The XGBoost model in ``model.tar.gz`` (its ``xgboost-model``, or its one file)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
            files = [member for member in archive.getmembers() if member.isfile()]
            chosen = next((m for m in files if m.name.rsplit("/", 1)[-1] == MODEL_FILE), files[0] if files else None)
            if chosen is None:
                raise ModelLoadError("model.tar.gz holds no file")
            extracted = archive.extractfile(chosen)
            raw = extracted.read() if extracted is not None else b""
        booster = xgb.Booster()
        booster.load_model(bytearray(raw))
    except (tarfile.TarError, OSError, EOFError, xgb.core.XGBoostError) as error:
        raise ModelLoadError(f"the model artifact cannot be loaded: {error}") from error
    booster.set_param("nthread", "1")
    return booster


def _media_type(content_type: str | None) -> str:
    message = Message()
    message["content-type"] = content_type or ""
    return message.get_content_type()


def features(body: bytes, content_type: str | None) -> np.ndarray:
    """The feature matrix of a request, or the container's 415 answer."""
    if _media_type(content_type) != CSV:
        raise ContainerError(415, f"Content-type {content_type} is not supported.")
    try:
        lines = body.strip().decode("utf-8").split("\n")
        return np.array([["nan" if cell == "" else cell for cell in line.split(",")] for line in lines]).astype(float)
    except (UnicodeDecodeError, ValueError) as error:
        raise ContainerError(
            415,
            f"Loading csv data failed with Exception, please ensure data is in csv format:\n {type(error)}\n {error}",
        ) from error


def predict(booster: xgb.Booster, body: bytes, content_type: str | None) -> bytes:
    """The container's answer to ``/invocations``: one prediction per line (CSV)."""
    if not body:
        return b""
    matrix = features(body, content_type)
    try:
        # The same predictions as through a DMatrix, without building one for each request.
        predictions = booster.inplace_predict(matrix, validate_features=False)
    except xgb.core.XGBoostError as error:
        reason = str(error).split("\n", 1)[0]  # XGBoost appends its native stack trace
        raise ContainerError(400, f"Unable to evaluate payload provided: {reason}") from error
    return "".join(f"{value}\n" for value in predictions.tolist()).encode()
