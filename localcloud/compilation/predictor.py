"""Load a model the local Neo stand-in compiled and predict with it, through ctypes.

Not DLR: its wheel ships no native library and phones home on import. The library is the one in
the job's output (``compiled.so``), built for this machine's architecture; a library built for
another one runs under qemu-user instead (:mod:`localcloud.compilation.emulation`). This module
needs only the standard library and numpy, so the edge flow's device component can ship it.
"""

from __future__ import annotations

import ctypes
import io
import tarfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

LIBRARY_FILE = "compiled.so"


class CompiledModelError(Exception):
    """The library cannot be loaded, or the rows do not fit the model."""


class CompiledModel:
    """A compiled tree model: ``predict`` gives the same outputs as XGBoost's ``predict``.

    Rows are floats, NaN for a missing value. glibc loads a library path once per process: give
    each model its own path (:meth:`from_artifact` extracts into the folder it is given).
    """

    def __init__(self, library: str | Path) -> None:
        try:
            self._library = ctypes.CDLL(str(library), mode=ctypes.RTLD_LOCAL)
            self._batch = self._library.conveyor_predict_batch
            num_feature = self._library.get_num_feature
            num_output = self._library.conveyor_num_output
        except (OSError, AttributeError) as error:
            raise CompiledModelError(f"{library} is not a library of the local Neo stand-in: {error}") from error
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
        """The model of a compilation job's output ``.tar.gz``, extracted into ``folder``."""
        folder = Path(folder)
        try:
            with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
                archive.extract(LIBRARY_FILE, folder, filter="data")
        except (tarfile.TarError, KeyError, OSError) as error:
            raise CompiledModelError(f"the artifact holds no {LIBRARY_FILE}: {error}") from error
        return cls(folder / LIBRARY_FILE)

    def predict(self, rows: npt.ArrayLike, *, margin: bool = False) -> npt.NDArray[np.float32]:
        """Predictions for ``rows`` (one row or a matrix): one value per row, or one row of
        ``num_output`` values per row; ``margin`` gives untransformed scores (XGBoost's ``output_margin``)."""
        matrix = np.ascontiguousarray(rows, dtype=np.float32)
        if matrix.ndim == 1:
            matrix = matrix.reshape(1, -1)
        if matrix.ndim != 2 or matrix.shape[1] != self.num_feature:
            raise CompiledModelError(
                f"rows must have {self.num_feature} features each, got an array of shape {matrix.shape}"
            )
        out = np.empty((matrix.shape[0], self.num_output), dtype=np.float32)
        self._batch(
            matrix.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
            matrix.shape[0],
            int(margin),
            out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
        )
        return out[:, 0] if self.num_output == 1 else out
