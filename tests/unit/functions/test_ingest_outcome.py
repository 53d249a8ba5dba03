"""A checked file's outcome follows from its check and the row-error policy, once."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest
from ingestion import RowErrorPolicy, decide
from upload_check import FileCheck

from conveyor.schema import Rejection

BAD_ROW = Rejection(rule="min", message="torque_nm must be at least 0", line=3, column="torque_nm", value="-1")
TOO_MANY = Rejection(rule="too-many-rows", message="file has more than 5 rows", line=7)


@pytest.mark.parametrize("policy", ["reject-file", "keep-good-rows"])
def test_a_file_of_good_rows_is_accepted_whole(policy: RowErrorPolicy) -> None:
    verdict = decide(FileCheck(rows_in=2, rows_good=2), policy)
    assert (verdict.outcome, verdict.rows_accepted, verdict.rows_set_aside) == ("accepted", 2, 0)


def test_under_reject_file_one_bad_row_quarantines_the_file() -> None:
    check = FileCheck(rows_in=3, rows_good=2, rows_bad=1, rejections=[BAD_ROW])
    verdict = decide(check, "reject-file")
    assert (verdict.outcome, verdict.rows_accepted, verdict.rows_set_aside) == ("quarantined", 0, 3)


def test_under_keep_good_rows_the_good_rows_are_kept_and_the_bad_set_aside() -> None:
    check = FileCheck(rows_in=3, rows_good=2, rows_bad=1, rejections=[BAD_ROW])
    verdict = decide(check, "keep-good-rows")
    assert (verdict.outcome, verdict.rows_accepted, verdict.rows_set_aside) == ("partially-accepted", 2, 1)


def test_bad_rows_past_the_reported_reasons_still_count() -> None:
    # Given a file whose reasons were cut short at the limit, then its bad rows still decide its fate
    check = FileCheck(rows_in=5000, rows_good=0, rows_bad=5000, rejections=[BAD_ROW])
    verdict = decide(check, "keep-good-rows")
    assert (verdict.outcome, verdict.rows_set_aside) == ("quarantined", 5000)


@pytest.mark.parametrize("policy", ["reject-file", "keep-good-rows"])
def test_a_file_level_problem_quarantines_the_file_whatever_the_policy(policy: RowErrorPolicy) -> None:
    verdict = decide(FileCheck(rows_in=6, rows_good=5, fatal=TOO_MANY), policy)
    assert (verdict.outcome, verdict.rows_accepted, verdict.rows_set_aside) == ("quarantined", 0, 6)


def test_under_keep_good_rows_a_file_without_one_good_row_is_quarantined_whole() -> None:
    # Given a file whose every row is bad, then no empty part is written: the file goes aside as it came
    check = FileCheck(rows_in=2, rows_good=0, rows_bad=2, rejections=[BAD_ROW, BAD_ROW])
    verdict = decide(check, "keep-good-rows")
    assert (verdict.outcome, verdict.rows_accepted, verdict.rows_set_aside) == ("quarantined", 0, 2)


def test_a_verdict_once_decided_cannot_be_changed() -> None:
    verdict = decide(FileCheck(rows_in=2, rows_good=2), "reject-file")
    with pytest.raises(FrozenInstanceError):
        verdict.rows_accepted = 0  # type: ignore[misc]
