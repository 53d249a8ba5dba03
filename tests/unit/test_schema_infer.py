"""``conveyor schema infer``: a feature schema for a user's own CSV file, and what it decided and why.

The inferred schema must accept the very file it came from: the tests feed the file back to the
schema's own upload validators (``read_header``, then ``CsvColumns.parse_rows`` and ``parse_row``).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.schema import CsvColumns, FeatureSchema, MetadataSpec, Rejection, load_schema
from conveyor_tools import csv_profile, schema_infer, synthetic
from conveyor_tools.operator_cli import main
from conveyor_tools.schema_infer import Inferred, default_name, describe, infer, schema_json
from localcloud.template import load_sam_template
from tests.conftest import TEMPLATE

SHIPPED = load_schema("predictive_maintenance")

# Label first, the features, then the metadata columns: a header the inferred schema takes as it is.
# Row 2 has an empty torque and row 3 a temp that is not finite: an upload sets both aside.
MIXED = """\
failure,temp,count,flag,torque,device,seen_at
0,-3.5,4,5,1.5,pump-1,2026-01-01T10:00:00Z
1,12.25,7,5,,pump-2,2026-01-02T10:00:00+01:00
0,nan,9,5,2,17,
2,1e1,0,5,0.001,"pump, 3",2026-01-03 08:00
1.0, 7 ,6,5,1_0,pump-4,2026-01-04
"""


def csv_file(folder: Path, text: str, name: str = "data.csv") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def inferred_from(folder: Path, text: str, label: str = "y", margin: float = 0.1) -> Inferred:
    return infer(csv_file(folder, text), label, margin=margin)


def bounds(inferred: Inferred) -> dict[str, tuple[float | None, float | None]]:
    return {feature.name: (feature.min, feature.max) for feature in inferred.schema.features}


def types(inferred: Inferred) -> dict[str, str]:
    return {feature.name: feature.type for feature in inferred.schema.features}


def refused_rows(schema: FeatureSchema, text: str) -> list[int]:
    """The data rows (0 is the first after the header) the schema's upload validators set aside.

    Each row is checked both ways an upload checks it, column by column and one by one, and the two must agree.
    """
    header, *rows = csv.reader(io.StringIO(text))
    columns = schema.read_header([cell.strip() for cell in header])
    assert isinstance(columns, CsvColumns), columns
    by_column = [line is None for line in columns.parse_rows(rows).lines]
    one_by_one = [isinstance(columns.parse_row(row), Rejection) for row in rows]
    assert by_column == one_by_one
    return [index for index, refused in enumerate(one_by_one) if refused]


# What a column becomes


def test_a_column_of_whole_numbers_is_an_integer_feature(tmp_path: Path) -> None:
    # Given a column whose every value is written as a whole number (with a sign, spaces, an underscore)
    text = "y,count\n0,4\n1,-2\n0, +7 \n1,1_000\n"
    # When a schema is inferred
    inferred = inferred_from(tmp_path, text)
    # Then the column is an integer feature
    assert types(inferred) == {"count": "integer"}


def test_a_column_written_with_decimals_or_exponents_is_a_number_even_when_every_value_is_whole(
    tmp_path: Path,
) -> None:
    # Given whole values written as 12.0 in one column and 1e3 in another
    text = "y,reading,scaled\n0,12.0,1e3\n1,3,2\n"
    # When a schema is inferred
    inferred = inferred_from(tmp_path, text)
    # Then both are number features: a file that writes decimals may send fractions next
    assert types(inferred) == {"reading": "number", "scaled": "number"}


def test_the_label_values_are_the_whole_numbers_it_holds_sorted(tmp_path: Path) -> None:
    # Given a label written as the schema's label check reads it, 1.0 being class 1
    text = "y,a\n2,1\n0,1\n1.0,1\n2,1\n"
    # When a schema is inferred
    inferred = inferred_from(tmp_path, text)
    # Then its values are the classes, sorted, each counted
    assert inferred.schema.label.values == [0, 1, 2]
    assert inferred.label_counts == {2: 2, 0: 1, 1: 1}


def test_the_features_are_the_other_columns_in_the_files_order_after_the_label(tmp_path: Path) -> None:
    # Given a label column in the middle of the file
    text = "b,y,a\n1,0,2\n"
    # When a schema is inferred
    inferred = inferred_from(tmp_path, text)
    # Then the schema's columns are the label, then the others in the file's order
    assert inferred.schema.columns == ["y", "b", "a"]


# Bounds


def test_bounds_widen_the_observed_range_by_the_margin_rounded_outward(tmp_path: Path) -> None:
    # Given a feature observed from -3.5 to 12.25 (a range of 15.75)
    text = "y,temp\n0,-3.5\n1,12.25\n"
    # When a schema is inferred with the default margin of 10 %
    inferred = inferred_from(tmp_path, text)
    # Then each bound moves out by 1.575, rounded outward at its second significant digit
    assert bounds(inferred) == {"temp": (-5.1, 13.9)}


def test_bounds_are_computed_on_the_decimals_written_not_their_binary_floats(tmp_path: Path) -> None:
    # Given a range of 1.5 to 2, whose widened min 1.45 is a float a hair below 1.45
    text = "y,torque\n0,1.5\n1,2\n"
    # When a schema is inferred
    inferred = inferred_from(tmp_path, text)
    # Then the min is 1.45, not rounded down to 1.449
    assert bounds(inferred) == {"torque": (1.45, 2.05)}


def test_an_integer_features_bounds_are_whole_numbers_outside_the_range(tmp_path: Path) -> None:
    # Given an integer feature observed from -4 to 9 (widened by 1.3)
    text = "y,count\n0,-4\n1,9\n"
    # When a schema is inferred
    inferred = inferred_from(tmp_path, text)
    # Then its bounds are the whole numbers just outside the widened range
    assert bounds(inferred) == {"count": (-6, 11)}


def test_a_feature_never_negative_gets_no_negative_min(tmp_path: Path) -> None:
    # Given features that are never negative, one of them starting near 0
    text = "y,wear,vibration\n0,0,0.2\n1,250,9.1\n"
    # When a schema is inferred
    inferred = inferred_from(tmp_path, text)
    # Then their mins stop at 0, and their maxes are widened as usual
    assert bounds(inferred) == {"wear": (0, 275), "vibration": (0.0, 9.99)}


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("5", (4, 6)), ("3.2", (2.88, 3.52)), ("-3.2", (-3.52, -2.88)), ("0", (0, 1)), ("0.0", (0.0, 0.1))],
)
def test_a_constant_feature_is_widened_by_the_margin_of_its_value(
    tmp_path: Path, cell: str, expected: tuple[float, float]
) -> None:
    # Given a feature that held one value throughout
    text = f"y,setting\n0,{cell}\n1,{cell}\n"
    # When a schema is inferred
    inferred = inferred_from(tmp_path, text)
    # Then it is widened by 10 % of that value (of 1 for a zero), so the next reading need not be the same
    assert bounds(inferred) == {"setting": expected}


def test_a_margin_of_zero_writes_the_observed_range(tmp_path: Path) -> None:
    # Given a feature observed from -3.5 to 12.25
    text = "y,temp\n0,-3.5\n1,12.25\n"
    # When a schema is inferred with no margin
    inferred = inferred_from(tmp_path, text, margin=0.0)
    # Then the bounds are the observed range itself
    assert bounds(inferred) == {"temp": (-3.5, 12.25)}


def test_bounds_past_the_range_of_floats_stay_finite(tmp_path: Path) -> None:
    # Given a feature near the largest floats, widened by three times its range
    text = "y,huge\n0,-1e308\n1,1e308\n"
    # When a schema is inferred
    inferred = inferred_from(tmp_path, text, margin=3.0)
    # Then its bounds are the largest finite floats, which JSON can hold
    largest = schema_infer.LARGEST
    assert bounds(inferred) == {"huge": (-largest, largest)}
    assert FeatureSchema.model_validate_json(schema_json(inferred.schema)) == inferred.schema


# Columns that are not features


def test_a_column_with_text_is_not_a_feature_but_kept_as_string_metadata(tmp_path: Path) -> None:
    # Given a column of numbers but for one text value on line 3
    text = "y,a,device\n0,1,17\n1,2,pump-2\n0,3,18\n"
    # When a schema is inferred
    inferred = inferred_from(tmp_path, text)
    # Then the column is kept beside each row as text, and the summary says which value made it so
    assert inferred.schema.metadata == [MetadataSpec(name="device", type="string")]
    assert inferred.not_features[0].why == "holds 'pump-2' on line 3 -> metadata (string)"


def test_a_column_of_iso_8601_times_is_kept_as_the_event_time(tmp_path: Path) -> None:
    # Given a column of ISO 8601 times, some with an offset, one empty
    text = "y,a,seen_at\n0,1,2026-01-01T10:00:00Z\n1,2,\n0,3,2026-01-02 08:00+01:00\n1,4,2026-01-03\n"
    # When a schema is inferred
    inferred = inferred_from(tmp_path, text)
    # Then it is the schema's event time
    assert inferred.schema.metadata == [MetadataSpec(name="seen_at", type="event_time")]


def test_only_the_first_column_of_times_is_the_event_time(tmp_path: Path) -> None:
    # Given two columns of times
    text = "y,a,seen_at,sent_at\n0,1,2026-01-01T10:00:00Z,2026-01-01T09:59:00Z\n"
    # When a schema is inferred
    inferred = inferred_from(tmp_path, text)
    # Then the first is the event time and the second is kept as text, as a schema has one event time
    assert inferred.schema.metadata == [
        MetadataSpec(name="seen_at", type="event_time"),
        MetadataSpec(name="sent_at", type="string"),
    ]
    assert "as a schema has one event_time (seen_at)" in inferred.not_features[1].why


@pytest.mark.parametrize(
    "cells",
    [
        ["2026-01-01T10:00:00Z", "yesterday"],  # a value that is not a time
        ["2026-01-01T10:00:00Z", "1767261600"],  # epoch seconds are a number, not an ISO 8601 time
    ],
)
def test_a_column_of_times_and_other_values_is_kept_as_text(tmp_path: Path, cells: list[str]) -> None:
    # Given a column of times with one other value
    text = "y,a,seen_at\n" + "".join(f"0,1,{cell}\n" for cell in cells)
    # When a schema is inferred
    inferred = inferred_from(tmp_path, text)
    # Then it is kept as text
    assert inferred.schema.metadata == [MetadataSpec(name="seen_at", type="string")]


def test_a_column_whose_text_holds_a_line_break_is_left_out_and_said_so(tmp_path: Path) -> None:
    # Given a column of notes, one of them two lines long (lines 3 and 4 of the file)
    text = 'y,a,notes\n0,1,fine\n1,2,"worn\nbelt"\n'
    # When a schema is inferred
    inferred = inferred_from(tmp_path, text)
    # Then it is not kept at all (a metadata sidecar holds one value per line), and the summary says why
    assert inferred.schema.metadata == []
    assert inferred.not_features[0].metadata is None
    assert inferred.not_features[0].why.endswith("left out: line 4 holds a line break, which a metadata value cannot")


@pytest.mark.parametrize("cells", [["", " "], ["nan", "inf"], ["", "-inf"]])
def test_a_column_without_a_finite_number_is_kept_as_string_metadata(tmp_path: Path, cells: list[str]) -> None:
    # Given a column whose cells are empty or not finite
    text = "y,a,b\n" + "".join(f"0,1,{cell}\n" for cell in cells)
    # When a schema is inferred
    inferred = inferred_from(tmp_path, text)
    # Then it has no range to be a feature, and is kept as text
    assert inferred.schema.metadata == [MetadataSpec(name="b", type="string")]
    assert inferred.not_features[0].why == "has no finite number -> metadata (string)"


# Empty cells


def test_empty_and_non_finite_cells_of_a_feature_are_counted_with_the_rows_an_upload_sets_aside(
    tmp_path: Path,
) -> None:
    # Given features with an empty or infinite cell in two rows, and a text column with an empty cell in a third
    text = "y,a,b,device\n0,1,,pump\n1,,inf,pump\n0,3,4.0,\n1,5,6.5,pump\n"
    # When a schema is inferred
    inferred = inferred_from(tmp_path, text)
    # Then the features are inferred from their other cells, and the two rows are counted as set aside
    assert bounds(inferred) == {"a": (0, 6), "b": (3.75, 6.75)}
    assert [feature.missing for feature in inferred.features] == [1, 2]
    assert inferred.rows_set_aside == 2


def test_blank_rows_are_skipped_as_an_upload_skips_them(tmp_path: Path) -> None:
    # Given a file with a blank line and a row of empty cells
    text = "y,a\n0,1\n\n,\n1,2\n"
    # When a schema is inferred
    inferred = inferred_from(tmp_path, text)
    # Then only the two rows with values count
    assert inferred.rows == 2
    assert inferred.rows_set_aside == 0


# The file against the schema inferred from it


def test_every_row_passes_the_inferred_schemas_validators_but_those_counted_as_set_aside(tmp_path: Path) -> None:
    # Given a file of integers, numbers, a constant, text, times, and an empty and a non-finite feature cell
    # When a schema is inferred from it
    inferred = inferred_from(tmp_path, MIXED, label="failure")
    # Then its header fits the schema, and the upload validators refuse only the two rows counted
    assert inferred.header_fits
    assert refused_rows(inferred.schema, MIXED) == [1, 2]
    assert inferred.rows_set_aside == 2


NUMBERS = st.floats(allow_nan=False, allow_infinity=False).flatmap(
    lambda x: st.sampled_from([repr(x), f"{x:.3f}", f"{x:e}", f" {x} "])
)
CELLS = st.one_of(NUMBERS, st.integers(-(10**20), 10**20).map(str), st.just(""))


@st.composite
def tables(draw: st.DrawFn) -> str:
    """A CSV file of a label and 1 to 4 columns of numbers, any of them empty but in the first row."""
    width = draw(st.integers(1, 4))
    first = [draw(NUMBERS) for _ in range(width)]
    rest = draw(st.lists(st.lists(CELLS, min_size=width, max_size=width), max_size=12))
    labels = draw(st.lists(st.integers(0, 3), min_size=len(rest) + 1, max_size=len(rest) + 1))
    rows = [",".join([str(label), *cells]) for label, cells in zip(labels, [first, *rest], strict=True)]
    return "\n".join([",".join(["y", *(f"x{index}" for index in range(width))]), *rows]) + "\n"


@settings(max_examples=200, deadline=None)
@given(text=tables(), margin=st.floats(0, 10))
def test_any_file_of_numbers_passes_the_schema_inferred_from_it(
    tmp_path_factory: pytest.TempPathFactory, text: str, margin: float
) -> None:
    # Given any file of numbers, written in any way float() reads, at any size, with empty cells
    # When a schema is inferred from it with any margin
    inferred = inferred_from(tmp_path_factory.mktemp("tables"), text, margin=margin)
    # Then the upload validators refuse exactly its rows with an empty cell, and no other
    rows = list(csv.reader(io.StringIO(text)))[1:]
    assert refused_rows(inferred.schema, text) == [index for index, row in enumerate(rows) if "" in row]


def test_synthetic_data_gives_the_shipped_schemas_columns_label_and_types_with_bounds_around_every_value(
    tmp_path: Path,
) -> None:
    # Given the synthetic sensor data the demo sends, in the shipped schema's columns
    records = synthetic.records(2000)
    text = synthetic.csv_text(records, SHIPPED.columns)
    # When a schema is inferred from it
    inferred = inferred_from(tmp_path, text, label="failure_within_horizon")
    # Then it has the shipped schema's columns, label values and types; the generator rounds the speed
    # to whole numbers, so that one reads as an integer (every value of it a number the shipped schema takes)
    assert inferred.schema.columns == SHIPPED.columns
    assert inferred.schema.label == SHIPPED.label
    assert types(inferred) == {feature.name: feature.type for feature in SHIPPED.features} | {
        "rotational_speed_rpm": "integer"
    }
    # And its bounds hold every generated value, so every row passes
    for name, (low, high) in bounds(inferred).items():
        assert all(low is not None and high is not None and low <= record[name] <= high for record in records)
    assert refused_rows(inferred.schema, text) == []


def test_a_large_file_is_read_in_chunks_with_the_same_result_and_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a file read whole, and read two rows at a time
    text = "y,a,b\n0,1,x\n1,,2\n0,3,pump-3\n1,4,\n0,5,\n"
    whole = inferred_from(tmp_path, text)
    monkeypatch.setattr(csv_profile, "CHUNK_ROWS", 2)
    # When a schema is inferred from it in chunks
    chunked = inferred_from(tmp_path, text)
    # Then the schema, the counts and the lines named are the same
    assert chunked == whole
    assert chunked.not_features[0].why == "holds 'x' on line 2 -> metadata (string)"


# Names and the file written


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        ("Machine Sensors-2024.csv", "machine_sensors_2024"),
        ("2024_pumps.csv", "pumps"),
        ("2024.csv", "inferred"),
        (f"{'a' * 63}-b.csv", "a" * 63),
    ],
)
def test_the_default_name_is_the_files_made_into_a_schema_name(file_name: str, expected: str) -> None:
    # Given a file named as people name files
    # When no --name is given
    # Then the schema is named after it, in the pattern template.yaml allows
    assert default_name(Path(file_name)) == expected


def test_the_name_pattern_is_the_templates_for_feature_schema() -> None:
    # Given the FeatureSchema parameter of template.yaml
    parameter = load_sam_template(TEMPLATE)["Parameters"]["FeatureSchema"]
    # Then the names schema infer writes are those the stack can be deployed with
    assert parameter["AllowedPattern"] == f"^{schema_infer.NAME_PATTERN.pattern}$"


def test_the_description_says_which_file_and_how_many_rows(tmp_path: Path) -> None:
    # Given files of two rows and of one
    # When a schema is inferred from each
    # Then its description says where it came from
    assert inferred_from(tmp_path, "y,a\n0,1\n1,2\n").schema.description == (
        "Inferred from data.csv (2 rows) by conveyor schema infer."
    )
    assert inferred_from(tmp_path, "y,a\n0,1\n").schema.description == (
        "Inferred from data.csv (1 row) by conveyor schema infer."
    )


def test_the_json_written_reads_back_as_the_same_schema_one_line_a_feature(tmp_path: Path) -> None:
    # Given a schema inferred with integer and number features and metadata
    inferred = inferred_from(tmp_path, MIXED, label="failure")
    # When it is written as JSON
    text = schema_json(inferred.schema)
    # Then it reads back as the same schema, each feature on its line with an integer's bounds whole
    assert FeatureSchema.model_validate_json(text) == inferred.schema
    assert '    {"name": "count", "type": "integer", "min": 0, "max": 10},' in text.splitlines()
    assert json.loads(text)["metadata"] == [
        {"name": "device", "type": "string"},
        {"name": "seen_at", "type": "event_time"},
    ]


# The command


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of its own as the current directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["schema", "infer", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_command_writes_name_json_here_and_says_what_it_inferred(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the user's file in the current directory
    csv_file(here, MIXED, name="Pump Log.csv")
    # When the command infers its schema
    code, out, _ = run(["Pump Log.csv", "--label", "failure"], capsys)
    # Then the schema is in pump_log.json, and the summary says each feature's range and bounds, and how to ship it
    assert code == 0
    written = FeatureSchema.model_validate_json((here / "pump_log.json").read_text(encoding="utf-8"))
    assert written.name == "pump_log"
    lines = out.splitlines()
    assert lines[0] == "Inferred schema pump_log from Pump Log.csv (5 rows); wrote pump_log.json"
    assert lines[1] == "Label failure, rows of each value: 0: 2, 1: 2, 2: 1"
    assert lines[3:7] == [
        "  temp    number   -3.5..12.25 -> -5.1..13.9",
        "  count   integer  0..9 -> 0..10 (never negative: min not below 0)",
        "  flag    integer  5..5 -> 4..6 (constant)",
        "  torque  number   0.001..10.0 -> 0.0..11.0 (never negative: min not below 0)",
    ]
    assert lines[-1].startswith("To use it: put it in layers/shared/conveyor/schemas/ as pump_log.json")


def test_the_summary_says_what_is_not_a_feature_and_which_rows_an_upload_sets_aside(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the user's file with text, times, an empty and a non-finite feature cell
    data = csv_file(tmp_path, MIXED)
    # When the command infers its schema
    _, out, _ = run([str(data), "--label", "failure", "--output", str(tmp_path / "out.json")], capsys)
    # Then the summary names the metadata and why, and warns of the rows an upload would set aside
    assert "  device holds 'pump-1' on line 2 -> metadata (string)" in out
    assert "  temp: 1 of its cells empty or not a finite number" in out
    assert "  torque: 1 of its cells empty or not a finite number" in out
    assert "  2 of 5 rows have such a cell: the schema requires every feature, so an upload of this file" in out


def test_the_summary_says_when_the_files_columns_are_not_in_the_schemas_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a file with its label last and a text column among the features
    data = csv_file(tmp_path, "device,a,b,y\npump,1,2,0\n")
    # When the command infers its schema
    _, out, _ = run([str(data), "--label", "y", "--output", str(tmp_path / "out.json")], capsys)
    # Then the summary says the header an upload needs
    assert "  The schema takes the header y,a,b, then any of device: an upload of this file needs its columns so" in out


def test_the_command_writes_the_named_schema_to_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given the user's file
    data = csv_file(tmp_path, "y,a\n0,1\n")
    # When the command is given a name and an output
    code, out, _ = run([str(data), "--label", "y", "--name", "pumps", "--output", str(tmp_path / "s.json")], capsys)
    # Then the schema of that name is written there, and the summary says how to ship it under its name
    assert code == 0
    assert FeatureSchema.model_validate_json((tmp_path / "s.json").read_text(encoding="utf-8")).name == "pumps"
    assert "as pumps.json and deploy with FeatureSchema=pumps" in out


def test_the_command_overwrites_a_file_only_with_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a schema file already there, perhaps edited by hand
    data = csv_file(tmp_path, "y,a\n0,1\n")
    output = tmp_path / "data.json"
    output.write_text("edited", encoding="utf-8")
    argv = [str(data), "--label", "y", "--output", str(output)]
    # When the command is run without --force, then with it
    refused = run(argv, capsys)
    kept = output.read_text(encoding="utf-8")
    forced = run([*argv, "--force"], capsys)
    # Then the first run leaves the file and says how to replace it, and the second replaces it
    assert refused[0] == 1
    assert (
        refused[2]
        == f"conveyor schema infer: {output} exists: pass --force to overwrite it, or --output to write elsewhere\n"
    )
    assert kept == "edited"
    assert forced[0] == 0
    assert FeatureSchema.model_validate_json(output.read_text(encoding="utf-8")).name == "data"


def test_the_command_says_why_it_cannot_write_the_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given an output in a folder that does not exist
    data = csv_file(tmp_path, "y,a\n0,1\n")
    output = tmp_path / "absent" / "s.json"
    # When the command is run
    code, _, err = run([str(data), "--label", "y", "--output", str(output)], capsys)
    # Then it fails, naming the output and why
    assert (code, err) == (1, f"conveyor schema infer: {output}: No such file or directory\n")


@pytest.mark.parametrize("margin", ["-0.1", "ten", "nan", "inf"])
def test_the_command_refuses_a_margin_that_is_not_a_fraction_of_0_or_more(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], margin: str
) -> None:
    # Given the user's file
    data = csv_file(tmp_path, "y,a\n0,1\n")
    # When the command is given a margin that is no fraction of the range
    with pytest.raises(SystemExit) as exit_:
        run([str(data), "--label", "y", f"--margin={margin}"], capsys)
    # Then argparse refuses it with the usage and what a margin is
    assert exit_.value.code == 2
    assert f"{margin!r} is not a fraction of 0 or more" in capsys.readouterr().err


ERRORS = [
    (b"", [], "data.csv: no header: line 1 must name the columns"),
    (b"1,2\n0,3\n", [], "data.csv: no header: line 1 (1,2) is numbers; put the names first"),
    (b"y,,b\n0,1,2\n", [], "data.csv: line 1: column 2 of the header has no name"),
    (b"y,a,a\n0,1,2\n", [], "data.csv: line 1: the header names 'a' twice"),
    (b"x,a\n0,1\n", [], "data.csv: no column named 'y' for the label (the header names x, a)"),
    (b"y,a\n1,2\n0.5,3\n", [], "data.csv: line 3, column y: '0.5' is not a whole number; the label holds classes"),
    (b"y,a\n1,2\n,3\n", [], "data.csv: line 3, column y: '' is not a whole number; the label holds classes"),
    (b"y,a\n1,2\n0,3,4\n", [], "data.csv: line 3: 3 cells, but the header names 2 columns"),
    (b'y,a\n1,2\n0,"3"x\n', [], "data.csv: line 3: not valid CSV: ',' expected after '\"'"),
    (b"y,a\n1,\xff\n", [], "data.csv: not UTF-8 text (invalid start byte)"),
    (b"y,a\n", [], "data.csv: no rows after the header"),
    (
        b"y,a\n0,x\n",
        [],
        "data.csv: no column but the label can be a feature: a holds 'x' on line 2 -> metadata (string)",
    ),
    (b"y\n0\n", [], "data.csv: no column but the label can be a feature: it has no other column"),
    (b"y,a\n0,1\n", ["--name", "Pumps"], "schema name 'Pumps': a schema name is a lower-case letter, then up to 63"),
]


@pytest.mark.parametrize(("content", "options", "message"), ERRORS)
def test_a_file_that_gives_no_schema_is_refused_naming_line_column_and_value(
    here: Path, capsys: pytest.CaptureFixture[str], content: bytes, options: list[str], message: str
) -> None:
    # Given a file that gives no schema
    (here / "data.csv").write_bytes(content)
    # When the command is run on it
    code, out, err = run(["data.csv", "--label", "y", *options], capsys)
    # Then it says what is wrong and where, writes nothing and prints no summary
    assert code == 1
    assert err.startswith(f"conveyor schema infer: {message}")
    assert out == ""
    assert list(here.glob("*.json")) == []


def test_a_missing_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a file that is not there
    # When the command is run on it
    code, _, err = run([str(tmp_path / "absent.csv"), "--label", "y"], capsys)
    # Then it fails, naming the file
    assert (code, err) == (1, f"conveyor schema infer: {tmp_path / 'absent.csv'}: No such file or directory\n")


def test_the_summary_of_a_file_says_the_file_and_output_it_was_given(tmp_path: Path) -> None:
    # Given a schema inferred from a file of one row
    inferred = inferred_from(tmp_path, "y,a\n0,1\n")
    # When it is written elsewhere
    # Then the summary's first line names the file, its rows and where the schema went
    assert describe(inferred, Path("elsewhere/s.json"))[0] == (
        f"Inferred schema data from {tmp_path / 'data.csv'} (1 row); wrote elsewhere/s.json"
    )
