"""Scoring on the run's test rows: each model fed its own columns, measured with XGBoost's own metric.

The rows are ``EvaluationMaxRows`` of the run's test channel, the newest first: read from the
objects its manifest lists (oldest part first) from its last, one stream at a time; only the rows
scored are held.
The challenger was trained on the run's layout; the champion on the layout its evaluation report
records, so its matrix is built by feature name (a feature the run does not have is missing, NaN,
which XGBoost follows down each tree's default branch). The metric is the booster's own
``eval`` of the objective metric's name (``auc`` of ``validation:auc``): the definition training
used, not a re-implementation of it.

Why in this Lambda function and not a SageMaker batch transform job, measured (README,
"The gate"): the package with ``xgboost-cpu`` 3.0.5, numpy and scipy for arm64 unzips to 187 MB,
225 MB with the shared layer (Lambda's limit: 250 MB); importing them adds 0.25 s to a cold
start; parsing 200,000 test rows and scoring both models on them takes 0.8 s of one CPU and
105 MiB. A transform job per model would start an instance for minutes, need a stand-in in the
local cloud, a role to pass and a step to compute the metric from its output.
"""

from __future__ import annotations

import io
import json
import math
import tarfile
from dataclasses import dataclass
from itertools import islice
from typing import Any

import numpy as np
import numpy.typing as npt
import xgboost as xgb

from conveyor import aws
from conveyor.errors import ConveyorError
from conveyor.schema import Layout

MODEL_FILE = "xgboost-model"
READ_BYTES = 1 << 20
Matrix = npt.NDArray[np.floating[Any]]


class ModelArtifactError(ConveyorError):
    """A model's ``model.tar.gz`` holds no XGBoost model that loads."""


class ChannelRowsError(ConveyorError):
    """A channel's rows are not in the run's layout."""


class ScoreNotFoundError(ConveyorError):
    """XGBoost's evaluation did not report the objective metric."""


@dataclass(frozen=True)
class ChannelRows:
    """Rows of one of the run's channels, in the run's layout: labels, and features in the layout's order."""

    __test__ = False  # not a pytest test class

    layout: Layout
    labels: Matrix
    features: Matrix

    @property
    def count(self) -> int:
        return len(self.labels)

    def columns_for(self, layout: Layout) -> Matrix:
        """The features of ``layout`` by name: each the run's column of that name, or NaN (missing) if it has none."""
        if layout.features == self.layout.features:
            return self.features
        position = {name: index for index, name in enumerate(self.layout.features)}
        arranged = np.full((self.count, len(layout.features)), np.nan, dtype=self.features.dtype)
        for index, name in enumerate(layout.features):
            if name in position:
                arranged[:, index] = self.features[:, position[name]]
        return arranged


def _lines(s3: Any, uri: str, limit: int) -> list[bytes]:
    """The first ``limit`` non-blank lines of an object, read as a stream that is closed once they are in."""
    bucket, key = aws.split_s3_uri(uri)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        return list(islice(filter(None, body.iter_lines(chunk_size=READ_BYTES)), limit))
    finally:
        body.close()


def _missing_or_number(cell: str) -> float:
    return float(cell) if cell else math.nan


def _matrix(lines: list[bytes], dtype: type[np.floating[Any]]) -> Matrix:
    """Rows of numbers; an empty cell is a missing value (NaN), as training's CSV reader reads it."""
    try:
        return np.loadtxt(lines, delimiter=",", dtype=dtype, ndmin=2)
    except ValueError:
        # A row with an empty cell (a feature new to a part migrated from an older schema): cell by cell
        return np.loadtxt(lines, delimiter=",", dtype=dtype, ndmin=2, converters=_missing_or_number)


def read_rows(
    manifest_uri: str, layout: Layout, max_rows: int, dtype: type[np.floating[Any]] = np.float32
) -> ChannelRows:
    """``max_rows`` rows of the objects the manifest lists, its last object first: the newest parts' rows
    (headerless CSV, label first)."""
    s3 = aws.client("s3")
    bucket, key = aws.split_s3_uri(manifest_uri)
    header, *keys = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    blocks: list[Matrix] = []
    remaining = max_rows
    for object_key in reversed(keys):
        if remaining <= 0:
            break
        lines = _lines(s3, f"{header['prefix']}{object_key}", remaining)
        if not lines:
            continue
        try:
            block = _matrix(lines, dtype)
        except ValueError as error:
            raise ChannelRowsError(f"channel object {object_key} is not numeric CSV: {error}") from error
        if block.shape[1] != len(layout.columns):
            raise ChannelRowsError(
                f"channel object {object_key} has {block.shape[1]} columns where the run's layout "
                f"({layout.schema_name} {layout.version}) has {len(layout.columns)}: {', '.join(layout.columns)}"
            )
        blocks.append(block)
        remaining -= len(block)
    rows = np.concatenate(blocks) if blocks else np.empty((0, len(layout.columns)), dtype=dtype)
    return ChannelRows(layout=layout, labels=rows[:, 0], features=rows[:, 1:])


def load_model(model_data_url: str) -> xgb.Booster:
    """The XGBoost model of ``model.tar.gz`` (its ``xgboost-model``, or its one file), as the container loads it."""
    bucket, key = aws.split_s3_uri(model_data_url)
    tarball = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
            files = [member for member in archive.getmembers() if member.isfile()]
            chosen = next((m for m in files if m.name.rsplit("/", 1)[-1] == MODEL_FILE), files[0] if files else None)
            extracted = archive.extractfile(chosen) if chosen is not None else None
            if extracted is None:
                raise ModelArtifactError(f"{model_data_url} holds no file")
            raw = extracted.read()
        booster = xgb.Booster()
        booster.load_model(bytearray(raw))
    except (tarfile.TarError, OSError, EOFError, xgb.core.XGBoostError) as error:
        raise ModelArtifactError(f"{model_data_url} does not load as an XGBoost model: {error}") from error
    return booster


def score(booster: xgb.Booster, features: Matrix, labels: Matrix, metric: str) -> float:
    """XGBoost's own ``metric`` (e.g. ``auc``) of the booster on these rows."""
    booster.set_param("eval_metric", metric)
    # e.g. "[0]\ttest-logloss:0.31\ttest-auc:0.93": the booster's own metrics, and this one
    evaluated = booster.eval(xgb.DMatrix(features, label=labels, missing=np.nan), name="test")
    for field in evaluated.split("\t")[1:]:
        name, _, value = field.rpartition(":")
        if name == f"test-{metric}":
            return float(value)
    raise ScoreNotFoundError(f"XGBoost's evaluation reported {evaluated!r}, not {metric}")
