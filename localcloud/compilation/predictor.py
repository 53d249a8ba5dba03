"""Load a model the local Neo stand-in compiled and predict with it, as numpy arrays.

The loading and the calls through ctypes are the edge inference component's own
(:mod:`conveyor_inference.native`, what devices run): the local cloud and its tests use that code,
with numpy in and out. A library built for another architecture runs under qemu-user instead
(:mod:`localcloud.compilation.emulation`).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import numpy.typing as npt

from conveyor_inference.native import LIBRARY_FILE, CompiledModelError, extract
from conveyor_inference.native import CompiledModel as NativeModel

__all__ = ["LIBRARY_FILE", "CompiledModel", "CompiledModelError"]


class CompiledModel:
    """A compiled tree model: ``predict`` gives the same outputs as XGBoost's ``predict``.

    Rows are floats, NaN for a missing value. glibc loads a library path once per process: give
    each model its own path (:meth:`from_artifact` extracts into the folder it is given).
    """

    def __init__(self, library: str | Path) -> None:
        self.native = NativeModel(library)
        self.path = self.native.path
        self.num_feature = self.native.num_feature
        """Features each row must have (the model's, in order)."""
        self.num_output = self.native.num_output
        """Outputs per row: 1 for a regression or binary model, the class count for a multi-class one."""

    @classmethod
    def from_artifact(cls, tarball: bytes, folder: str | Path) -> CompiledModel:
        """The model of a compilation job's output ``.tar.gz``, extracted into ``folder``."""
        return cls(extract(tarball, folder))

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
        pointer = ctypes.POINTER(ctypes.c_float)
        self.native.predict_into(
            matrix.ctypes.data_as(pointer), matrix.shape[0], out.ctypes.data_as(pointer), margin=margin
        )
        return out[:, 0] if self.num_output == 1 else out
