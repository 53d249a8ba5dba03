"""A checked file's outcome follows from its check and the row-error policy, once."""

from __future__ import annotations

import pytest
from ingestion import FileCheck, RowErrorPolicy, decide

from conveyor.schema import Rejection

GOOD = "0,298.1,308.6,1551.0,42.8,0,4.2\n"
BAD_ROW = Rejection(rule="min", message="torque_nm must be at least 0", line=3, column="torque_nm", value="-1")
TOO_MANY = Rejection(rule="too-many-rows", message="file has more than 5 rows", line=7)


@pytest.mark.parametrize("policy", ["reject-file", "keep-good-rows"])
def test_a_file_of_good_rows_is_accepted_whole(policy: RowErrorPolicy) -> None:
    verdict = decide(FileCheck(rows_in=2, good=[GOOD, GOOD]), policy)
    assert (verdict.outcome, verdict.rows_accepted, verdict.rows_set_aside) == ("accepted", 2, 0)


def test_under_reject_file_one_bad_row_quarantines_the_file() -> None:
    check = FileCheck(rows_in=3, good=[GOOD, GOOD], bad_lines=["1,2"], rejections=[BAD_ROW])
    verdict = decide(check, "reject-file")
    assert (verdict.outcome, verdict.rows_accepted, verdict.rows_set_aside) == ("quarantined", 0, 3)


def test_under_keep_good_rows_the_good_rows_are_kept_and_the_bad_set_aside() -> None:
    check = FileCheck(rows_in=3, good=[GOOD, GOOD], bad_lines=["1,2"], rejections=[BAD_ROW])
    verdict = decide(check, "keep-good-rows")
    assert (verdict.outcome, verdict.rows_accepted, verdict.rows_set_aside) == ("partially-accepted", 2, 1)


@pytest.mark.parametrize("policy", ["reject-file", "keep-good-rows"])
def test_a_file_level_problem_quarantines_the_file_whatever_the_policy(policy: RowErrorPolicy) -> None:
    verdict = decide(FileCheck(rows_in=6, good=[GOOD] * 5, fatal=TOO_MANY), policy)
    assert (verdict.outcome, verdict.rows_accepted, verdict.rows_set_aside) == ("quarantined", 0, 6)


def test_under_keep_good_rows_a_file_without_one_good_row_is_quarantined_whole() -> None:
    # Given a file whose every row is bad, then no empty part is written: the file goes aside as it came
    check = FileCheck(rows_in=2, good=[], bad_lines=["1,2", "3,4"], rejections=[BAD_ROW, BAD_ROW])
    verdict = decide(check, "keep-good-rows")
    assert (verdict.outcome, verdict.rows_accepted, verdict.rows_set_aside) == ("quarantined", 0, 2)
