"""Upload validation: every bad file of the corpus is rejected with its exact reason."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ingestion import check_file

from conveyor.schema import load_schema
from tests.conftest import FIXTURES

CORPUS = FIXTURES / "bad_inputs"
CASES = [c for c in json.loads((CORPUS / "cases.json").read_text())["cases"] if c["kind"] == "upload"]
SCHEMA = load_schema("predictive_maintenance")
HEADER = ",".join(SCHEMA.columns)
GOOD = "0,298.1,308.6,1551,42.8,0,4.2"


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_each_bad_upload_is_rejected_with_its_reason(case: dict[str, Any]) -> None:
    body = (CORPUS / case["file"]).read_bytes()
    check = check_file(SCHEMA, body, has_header=True, max_rows=5)
    reason = check.fatal or check.rejections[0]
    assert reason.model_dump(exclude_none=True, exclude={"message"}).items() >= case["expected"].items()
    # Nothing is lost: every data row is accepted or set aside
    assert check.rows_in == len(check.good) + len(check.rejections) or check.fatal is not None


def test_a_valid_file_with_a_byte_order_mark_is_accepted() -> None:
    check = check_file(SCHEMA, f"\ufeff{HEADER}\n{GOOD}\n{GOOD}\n".encode(), has_header=True, max_rows=5)
    assert (check.fatal, check.rejections, check.rows_in) == (None, [], 2)
    assert check.good == ["0,298.1,308.6,1551.0,42.8,0,4.2\n"] * 2


def test_stream_output_has_no_header() -> None:
    check = check_file(SCHEMA, f"{GOOD}\n".encode(), has_header=False, max_rows=5)
    assert (check.fatal, check.rows_in, len(check.good)) == (None, 1, 1)


def test_blank_lines_are_not_rows() -> None:
    check = check_file(SCHEMA, f"{HEADER}\n\n{GOOD}\n\n".encode(), has_header=True, max_rows=5)
    assert (check.rows_in, len(check.good)) == (1, 1)


def test_every_bad_row_is_reported_with_its_line() -> None:
    body = f"{HEADER}\n{GOOD}\n1,298.1,308.6,1551,-1,0,4.2\n{GOOD}\n5,298.1,308.6,1551,42.8,0,4.2\n".encode()
    check = check_file(SCHEMA, body, has_header=True, max_rows=10)
    assert [(r.line, r.rule) for r in check.rejections] == [(3, "min"), (5, "label")]
    assert check.rows_in == len(check.good) + len(check.rejections) == 4
