"""A compiled model in this process, through ctypes: the ``compiled.so`` of a Neo output tarball.

Not DLR: its wheel ships no native library and phones home on import. The library holds
tl2cgen's code for the trees and a batch entry point (``conveyor_predict_batch``); it predicts what
XGBoost's ``predict`` does. Standard library only, so the device needs nothing but Python.
"""

from __future__ import annotations

import ctypes
import io
import tarfile
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union

LIBRARY_FILE = "compiled.so"
METADATA_FILE = "compiled.json"
"""What was built and how (``num_feature`` among it), beside the library in the tarball."""

FloatPointer = Union["ctypes._Pointer[ctypes.c_float]", "ctypes.Array[ctypes.c_float]"]


# Python 3.12 (and the security releases of 3.8 to 3.11) refuse links and paths out of the folder.
_SAFE_EXTRACTION: dict[str, Any] = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


class CompiledModelError(Exception):
    """The model cannot be loaded or run, or the rows do not fit it."""


def extract(tarball: bytes, folder: str | Path) -> Path:
    """Extract the library (and its metadata, if any) of a Neo output tarball into ``folder``; the library's path."""
    folder = Path(folder)
    try:
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
            names = set(archive.getnames())
            if LIBRARY_FILE not in names:
                raise CompiledModelError(f"the model artifact holds no {LIBRARY_FILE} (it holds {sorted(names)})")
            for name in (LIBRARY_FILE, METADATA_FILE):
                if name in names:
                    archive.extract(name, folder, **_SAFE_EXTRACTION)
    except (tarfile.TarError, OSError, EOFError) as error:
        raise CompiledModelError(f"the model artifact is not a gzip compressed tar archive: {error}") from error
    return folder / LIBRARY_FILE


def flatten(rows: Sequence[Sequence[float]], num_feature: int) -> array[float]:
    """``rows`` as one float32 buffer, row after row; a row of another width is refused, naming it."""
    for number, row in enumerate(rows):
        if len(row) != num_feature:
            raise CompiledModelError(f"row {number} has {len(row)} features, the model reads {num_feature}")
    return array("f", [value for row in rows for value in row])


class CompiledModel:
    """A compiled tree model loaded with ctypes: ``predict`` gives XGBoost's predictions.

    glibc loads a library path once per process: give each model version its own path
    (:func:`conveyor_inference.model.install` does).
    """

    def __init__(self, library: str | Path) -> None:
        try:
            self._library = ctypes.CDLL(str(library), mode=ctypes.RTLD_LOCAL)
            self._batch = self._library.conveyor_predict_batch
            num_feature = self._library.get_num_feature
            num_output = self._library.conveyor_num_output
        except (OSError, AttributeError) as error:
            raise CompiledModelError(f"{library} is not a compiled model Conveyor can load: {error}") from error
        num_feature.restype = num_output.restype = ctypes.c_int32
        self._batch.restype = None
        self._batch.argtypes = [
            ctypes.POINTER(ctypes.c_float),
            ctypes.c_size_t,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_float),
        ]
        self.path = Path(library)
        self.num_feature: int = num_feature()
        """Features each row must have (the model's, in order)."""
        self.num_output: int = num_output()
        """Outputs per row: 1 for a regression or binary model, the class count for a multi-class one."""

    @classmethod
    def from_artifact(cls, tarball: bytes, folder: str | Path) -> CompiledModel:
        """The model of a Neo output tarball, extracted into ``folder``."""
        return cls(extract(tarball, folder))

    def predict_into(self, rows: FloatPointer, count: int, out: FloatPointer, *, margin: bool = False) -> None:
        """Predict ``count`` rows of float32 features into ``out`` (``count * num_output`` floats).

        The caller owns both buffers and their sizes; ``margin`` gives untransformed scores
        (XGBoost's ``output_margin``).
        """
        self._batch(rows, count, int(margin), out)

    def predict(self, rows: Sequence[Sequence[float]], *, margin: bool = False) -> list[list[float]]:
        """One list of ``num_output`` predictions per row; NaN marks a missing feature value."""
        if not rows:
            return []
        features = flatten(rows, self.num_feature)
        width = self.num_output
        out = array("f", bytes(4 * len(rows) * width))
        self.predict_into(_pointer(features), len(rows), _pointer(out), margin=margin)
        return [out[i * width : (i + 1) * width].tolist() for i in range(len(rows))]


def _pointer(buffer: array[float]) -> ctypes.Array[ctypes.c_float]:
    return (ctypes.c_float * len(buffer)).from_buffer(buffer)
