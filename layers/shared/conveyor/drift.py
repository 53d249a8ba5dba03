"""Data drift: incoming rows compared with the champion's training data, counted as the rows arrive.

Each model's retraining run stores a **baseline** beside its evaluation report (the model package
points at it through ``DriftCheckBaselines.ModelDataQuality.Statistics``): per feature, bin edges
at the deciles of its training rows, and the share of those rows in each bin; and the share of
each label value.

Ingestion counts each accepted part's rows into the same bins (:class:`DriftCounter`): one
``bisect`` per distinct cell text of a batch, over a list of a dozen edges: about a third of the
time ingestion takes to check and write a row. So a file over 2 MiB has an even sample of its rows counted (every
``size // SAMPLE_BYTES``-th, some 1 MiB of them), which keeps drift's cost within a few percent of
ingestion's on large files (of a gzip file, the stored size counts: more of its rows are counted).
Each counted row of a sample stands for ``every`` rows in the ledger, so a large file weighs what
its rows do beside small ones counted whole. What a part adds to the ledger is a fixed
number of counts (:meth:`Baseline.cells`), whatever its size; ``rows`` is the rows counted. The
ledger adds them to the pending rows' histogram in the same transaction that records the part, so
a duplicated delivery adds nothing.

Each feature has two more cells than bins: values below the training minimum and above its
maximum. The population stability index (:func:`psi`) is taken over all of them, with the
training share of the two outside cells being zero: a value in a region of the feature space the
training data never reached is drift too. Shares are floored at ``SMOOTHING`` so an empty bin does
not make the index infinite.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from itertools import repeat

from pydantic import BaseModel, ConfigDict

from conveyor.schema import Layout

BINS = 10
"""Bins per feature: its training deciles (fewer where values repeat)."""
SMOOTHING = 1e-4
"""The least share a cell is given in the population stability index."""
SAMPLE_BYTES = 1024 * 1024
"""Files up to twice this size have every row counted; larger ones an even sample of about this much (some
20,000 rows of the example schema: a histogram as good as all of them, at a fraction of the cost)."""


class FeatureBaseline(BaseModel):
    """A feature's bins over its training rows: ``edges`` are the minimum, the deciles, then the maximum."""

    model_config = ConfigDict(frozen=True)

    name: str
    edges: list[float]
    """Increasing, but for the last two, which are equal when each bin holds one value (a feature of a few
    distinct values: the last bin is the maximum alone)."""
    shares: list[float]
    """The share of training rows in each bin: one fewer than the edges."""

    @property
    def bounds(self) -> list[float]:
        """Where each cell starts, for ``bisect_right``: cell 0 is below the minimum, the last above the maximum.

        The last bin takes the maximum itself, so the last bound is just past it.
        """
        return [*self.edges[:-1], math.nextafter(self.edges[-1], math.inf)]

    @property
    def cells(self) -> int:
        return len(self.shares) + 2

    def expected(self) -> list[float]:
        """The training share of each cell: none outside the training range."""
        return [0.0, *self.shares, 0.0]


class LabelBaseline(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    values: list[int]
    shares: list[float]


class Baseline(BaseModel):
    """What a model's training rows looked like, in the cells drift is counted in."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    rows: int
    """Training rows the bins were taken from."""
    features: list[FeatureBaseline]
    label: LabelBaseline

    @property
    def id(self) -> str:
        """A name for these bins: the pending rows' histogram is kept per baseline."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]

    @property
    def cells(self) -> int:
        """How many counts a histogram of this baseline has: each feature's cells, then each label value."""
        return sum(feature.cells for feature in self.features) + len(self.label.values)


class FeatureDrift(BaseModel):
    name: str
    psi: float
    outside_share: float
    """The share of pending values below the training minimum or above its maximum."""
    shares: list[float]
    """The pending rows' share in each cell: below the range, each bin, above the range."""


class LabelDrift(BaseModel):
    name: str
    values: list[int]
    expected: list[float]
    shares: list[float]
    psi: float


class DriftReport(BaseModel):
    """The pending rows against the champion's baseline: each feature's index, and which passed the threshold."""

    baseline_id: str
    baseline_run_id: str
    rows: int
    threshold: float
    features: list[FeatureDrift]
    label: LabelDrift
    drifted: list[str]
    """Features whose index exceeds the threshold, most drifted first."""

    @property
    def max_psi(self) -> float:
        return max((feature.psi for feature in self.features), default=0.0)


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """The population stability index of ``actual`` shares against ``expected`` ones, cell by cell."""
    total = 0.0
    for expected_share, actual_share in zip(expected, actual, strict=True):
        e, a = max(expected_share, SMOOTHING), max(actual_share, SMOOTHING)
        total += (a - e) * math.log(a / e)
    return total


def _shares(counts: Sequence[int]) -> list[float]:
    total = sum(counts)
    return [count / total if total else 0.0 for count in counts]


def _psi(expected: Sequence[float], counts: Sequence[int]) -> float:
    """The index of ``counts`` against ``expected`` shares; 0 when nothing was counted (a feature the
    rows do not have, since the schema changed, has not drifted: it is not there)."""
    return psi(expected, _shares(counts)) if sum(counts) else 0.0


def measure(baseline: Baseline, rows: int, counts: Sequence[int], threshold: float) -> DriftReport:
    """The drift of ``rows`` pending rows whose histogram is ``counts`` (cells in ``Baseline.cells`` order)."""
    if len(counts) != baseline.cells:
        raise ValueError(f"a histogram of baseline {baseline.id} has {baseline.cells} counts, not {len(counts)}")
    features = []
    start = 0
    for feature in baseline.features:
        cells = counts[start : start + feature.cells]
        start += feature.cells
        shares = _shares(cells)
        features.append(
            FeatureDrift(
                name=feature.name,
                psi=round(_psi(feature.expected(), cells), 6),
                outside_share=round(shares[0] + shares[-1], 6),
                shares=[round(share, 6) for share in shares],
            )
        )
    label = LabelDrift(
        name=baseline.label.name,
        values=baseline.label.values,
        expected=baseline.label.shares,
        shares=[round(share, 6) for share in _shares(counts[start:])],
        psi=round(_psi(baseline.label.shares, counts[start:]), 6),
    )
    drifted = sorted((f for f in features if f.psi > threshold), key=lambda f: f.psi, reverse=True)
    return DriftReport(
        baseline_id=baseline.id,
        baseline_run_id=baseline.run_id,
        rows=rows,
        threshold=threshold,
        features=features,
        label=label,
        drifted=[feature.name for feature in drifted],
    )


class DriftCounter:
    """Counts rows of ``layout`` (CSV lines: label, then features) into ``baseline``'s cells, as they come.

    Every ``every``-th row is counted (the first, then each ``every`` rows on, across batches): a
    sample spread evenly over the part, which bounds the cost of drift on a large upload
    (``sample_every``). A baseline feature the layout does not have is left uncounted (its cells stay
    empty, and its index is then that of no rows: 0); features the baseline does not know are not
    counted.
    """

    def __init__(self, baseline: Baseline, layout: Layout, every: int = 1) -> None:
        self.baseline = baseline
        position = {name: index for index, name in enumerate(layout.columns)}
        self._columns = [(position.get(feature.name), feature.bounds) for feature in baseline.features]
        self._label_cell = {str(value): index for index, value in enumerate(baseline.label.values)}
        self._cells = [[0] * feature.cells for feature in baseline.features]
        self._labels = Counter[str]()
        self.every = every
        self._skip = 0
        """Rows of the next batch to pass over before the next one counted."""
        self.rows = 0

    def add(self, lines: list[str]) -> None:
        """Count checked CSV lines (``label,feature,...``, a newline at the end or not)."""
        chosen = lines[self._skip :: self.every]
        self._skip = (self._skip - len(lines)) % self.every
        columns = list(zip(*map(str.split, chosen, repeat(",")), strict=False))
        if not columns:
            return
        self.rows += len(columns[0])
        self._labels.update(columns[0])
        for (position, bounds), cells in zip(self._columns, self._cells, strict=True):
            if position is None:
                continue
            # Each distinct text parsed and placed once (sensor readings repeat): 1.6 times faster than each cell
            texts = Counter(columns[position])
            for cell, count in zip(map(bisect_right, repeat(bounds), map(float, texts)), texts.values(), strict=True):
                cells[cell] += count

    def counts(self) -> list[int]:
        """The histogram: every feature's cells, then each label value's count (``Baseline.cells`` long)."""
        by_value = [0] * len(self.baseline.label.values)
        for text, count in self._labels.items():
            # A label value the baseline never saw (the schema's label changed) has no cell
            cell = self._label_cell.get(str(int(float(text))))
            if cell is not None:
                by_value[cell] += count
        return [count for cells in self._cells for count in cells] + by_value


def sample_every(size: int) -> int:
    """Which rows of a file of ``size`` bytes drift counts: every one below twice ``SAMPLE_BYTES``, then 1 in
    ``size // SAMPLE_BYTES``."""
    return max(1, size // SAMPLE_BYTES)
