"""Hypothesis strategies for CSV rows of the default schema: good rows, and rows that break each rule;
and a sink that keeps the rows a check hands over."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

from conveyor.schema import load_schema

SCHEMA = load_schema("predictive_maintenance")
GOOD = ["0", "298.1", "308.6", "1551", "42.8", "0", "4.2"]
# Cells that break each rule somewhere, and valid ones that float() reads in unusual ways
CELLS = ["0", "1", "2", "1.0", "0.5", "-0", "4.2", "4.20", "298.1", " 300 ", "1e2", "1_0", "1551", "600", "601"]
CELLS += ["", " ", "abc", "nan", "inf", "-inf", "-1", "99999", "1e400", "\u0661", "True"]


def valid_cells(low: float, high: float, *, whole: bool) -> st.SearchStrategy[str]:
    """A value in range, written as an upload might write it."""
    numbers = st.integers(int(low), int(high)) if whole else st.floats(low, high)
    return numbers.flatmap(lambda n: st.sampled_from([repr(n), f"{n:.3f}", f"{n:e}", f" {n} ", f"+{n}"]))


COLUMNS = [
    valid_cells(min(SCHEMA.label.values), max(SCHEMA.label.values), whole=True),
    *(valid_cells(f.min or 0, f.max or 0, whole=f.type == "integer") for f in SCHEMA.features),
]
good_rows = st.tuples(*COLUMNS).map(list)
any_rows = st.one_of(
    good_rows,
    st.tuples(*(cells | st.sampled_from(CELLS) for cells in COLUMNS)).map(list),
    st.lists(st.sampled_from(CELLS), max_size=8),
)


@dataclass
class Collected:
    """The rows a check hands over, kept in the order they came (with the good rows' metadata lines, if any)."""

    good: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)
    metadata: list[str] = field(default_factory=list)

    def good_rows(self, lines: list[str], metadata: list[str] | None) -> None:
        self.good += lines
        self.metadata += metadata or []

    def bad_rows(self, lines: list[str]) -> None:
        self.bad += lines
