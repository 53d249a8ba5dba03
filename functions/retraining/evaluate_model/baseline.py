"""The drift baseline of the run's model: its training rows' bins, stored beside its evaluation report.

The bins are taken from at most ``MAX_ROWS`` of the run's train channel, the newest parts' first (as
the test rows are read), parsed as 64-bit floats: ingestion parses a cell's text the same
way, so a value the training rows hold is never outside their range. Each feature's edges are its
minimum, its deciles and its maximum, without repeats; a feature of at most ``BINS + 1`` distinct
values (a flag, a category) has a bin for each value instead, so a shift between its two highest
values is seen; its shares are counted with the cells
ingestion counts in (``FeatureBaseline.bounds``). Missing values (a feature new to parts migrated
from an older schema) are left out; a feature no training row has is left out of the baseline, and
so out of drift.
"""

from __future__ import annotations

import numpy as np
from scoring import ChannelRows

from conveyor.drift import BINS, Baseline, FeatureBaseline, LabelBaseline

MAX_ROWS = 100_000
"""Training rows the bins are taken from: a bin's share is then within 0.2 percentage points of all the
training rows' (95 % of the time), so sampling alone leaves a PSI near 0."""


def _feature(name: str, column: np.ndarray) -> FeatureBaseline | None:
    values = column[~np.isnan(column)]
    if not len(values):
        return None
    distinct = np.unique(values)
    if len(distinct) <= BINS + 1:
        # Few values (a flag, a category, a constant): each its own bin, the maximum's closed by itself
        edges = [float(value) for value in distinct] + [float(distinct[-1])]
    else:
        edges = [float(edge) for edge in np.unique(np.quantile(values, np.linspace(0, 1, BINS + 1)))]
    bounds = FeatureBaseline(name=name, edges=edges, shares=[0.0] * (len(edges) - 1)).bounds
    # Cells as ingestion counts them; every training value is within its own range, so the outside ones are empty
    cells = np.bincount(np.searchsorted(bounds, values, side="right"), minlength=len(bounds) + 1)
    shares = cells[1:-1] / len(values)
    return FeatureBaseline(name=name, edges=edges, shares=[round(float(share), 6) for share in shares])


def fit_baseline(run_id: str, rows: ChannelRows) -> Baseline:
    """The baseline of ``rows``, the run's training rows."""
    features = [_feature(name, rows.features[:, index]) for index, name in enumerate(rows.layout.features)]
    label = rows.layout.label
    counts = [int(np.count_nonzero(rows.labels == value)) for value in label.values]
    return Baseline(
        run_id=run_id,
        rows=rows.count,
        features=[feature for feature in features if feature is not None],
        label=LabelBaseline(
            name=label.name, values=label.values, shares=[round(c / max(rows.count, 1), 6) for c in counts]
        ),
    )
