"""Each column's check, one rule at a time: bounds, types, the label's values, missing and extra fields.

A value is checked by the same rule whether it comes in a CSV row (as text) or a JSON record (as a
JSON value); the rejection names the rule, the column and the value, and says what to fix.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from conveyor.errors import ConfigurationError
from conveyor.schema import FeatureSchema, LabelSpec, Layout, Rejection, csv_row, load_schema

SHIPPED = load_schema("predictive_maintenance")
GOOD = {
    "failure_within_horizon": 1,
    "air_temperature_k": 298.1,
    "process_temperature_k": 308.6,
    "rotational_speed_rpm": 1551,
    "torque_nm": 42.8,
    "tool_wear_min": 215,
    "vibration_mm_s": 4.2,
}
GOOD_VALUES = [1, 298.1, 308.6, 1551.0, 42.8, 215, 4.2]


def cells(record: dict[str, Any]) -> list[str]:
    """A record's values as the cells of a CSV row, label first."""
    return [str(record[column]) for column in SHIPPED.columns]


def rejected(outcome: object) -> Rejection:
    assert isinstance(outcome, Rejection), f"expected a rejection, got {outcome!r}"
    return outcome


# Bounds

AT_THE_BOUNDS = [
    (feature.name, bound) for feature in SHIPPED.features for bound in (feature.min, feature.max) if bound is not None
]


@pytest.mark.parametrize(("name", "bound"), AT_THE_BOUNDS)
def test_a_value_exactly_at_a_bound_is_accepted(name: str, bound: float) -> None:
    # Given a record whose one value is exactly its column's min or max
    value = int(bound) if name == "tool_wear_min" else bound
    record = GOOD | {name: value}
    expected = [value if column == name else good for column, good in zip(SHIPPED.columns, GOOD_VALUES, strict=True)]
    # When it comes as a JSON record and as a CSV row
    # Then both take it, with that value
    assert SHIPPED.parse_record(record) == expected
    assert SHIPPED._check_record(record) == expected
    assert SHIPPED.parse_row(cells(record)) == expected


BEYOND_THE_BOUNDS = [
    ("air_temperature_k", 249.9, "min", "air_temperature_k must be at least 250"),
    ("air_temperature_k", 350.1, "max", "air_temperature_k must be at most 350"),
    ("process_temperature_k", 400.01, "max", "process_temperature_k must be at most 400"),
    ("rotational_speed_rpm", -0.5, "min", "rotational_speed_rpm must be at least 0"),
    ("torque_nm", 200.5, "max", "torque_nm must be at most 200"),
    ("tool_wear_min", -1, "min", "tool_wear_min must be at least 0"),
    ("tool_wear_min", 601, "max", "tool_wear_min must be at most 600"),
    ("vibration_mm_s", 100.001, "max", "vibration_mm_s must be at most 100"),
]


@pytest.mark.parametrize(("name", "value", "rule", "message"), BEYOND_THE_BOUNDS)
def test_a_json_value_just_beyond_a_bound_is_rejected_naming_field_and_value(
    name: str, value: float, rule: str, message: str
) -> None:
    rejection = rejected(SHIPPED.parse_record(GOOD | {name: value}))
    assert (rejection.rule, rejection.column, rejection.value, rejection.message) == (rule, name, str(value), message)


@pytest.mark.parametrize(("name", "value", "rule", "message"), BEYOND_THE_BOUNDS)
def test_a_csv_cell_just_beyond_a_bound_is_rejected_with_its_line_field_and_value(
    name: str, value: float, rule: str, message: str
) -> None:
    rejection = rejected(SHIPPED.parse_row(cells(GOOD | {name: value}), line=12))
    assert (rejection.rule, rejection.line, rejection.column, rejection.value) == (rule, 12, name, str(value))
    assert rejection.message == message


# Types


@pytest.mark.parametrize(
    ("cell", "value"),
    [("215", 215), ("215.0", 215), (" 215 ", 215), ("2.15e2", 215), ("-0", 0)],
)
def test_an_integer_feature_takes_a_whole_number_written_any_way_as_an_int(cell: str, value: int) -> None:
    values = SHIPPED.parse_row([*cells(GOOD)[:5], cell, "4.2"])
    assert not isinstance(values, Rejection)
    assert values[5] == value
    assert type(values[5]) is int


@pytest.mark.parametrize("value", ["215.5", 215.5, "0.1"])
def test_an_integer_feature_rejects_a_fraction(value: Any) -> None:
    rejection = rejected(SHIPPED.parse_record(GOOD | {"tool_wear_min": value}))
    assert (rejection.rule, rejection.column, rejection.message) == (
        "type",
        "tool_wear_min",
        "tool_wear_min must be a whole number",
    )


def test_a_number_feature_keeps_a_fraction_and_makes_an_int_a_float() -> None:
    values = SHIPPED.parse_record(GOOD | {"torque_nm": 42, "vibration_mm_s": 0.125})
    assert not isinstance(values, Rejection)
    assert (values[4], type(values[4]), values[6]) == (42.0, float, 0.125)
    assert csv_row(values) == "1,298.1,308.6,1551.0,42.0,215,0.125\n"


@pytest.mark.parametrize("value", [True, False, "abc", "1,5", None, [1], {"v": 1}])
def test_a_feature_that_is_not_a_number_is_rejected_as_such(value: Any) -> None:
    # A boolean is not a number here, though Python counts True as 1
    rejection = rejected(SHIPPED.parse_record(GOOD | {"torque_nm": value}))
    assert (rejection.rule, rejection.column, rejection.message) == ("type", "torque_nm", "torque_nm must be a number")
    assert rejection.value == (value if isinstance(value, str) else json.dumps(value))


@pytest.mark.parametrize("cell", ["", "  "])
def test_an_empty_cell_is_a_missing_value(cell: str) -> None:
    rejection = rejected(SHIPPED.parse_row([*cells(GOOD)[:4], cell, *cells(GOOD)[5:]], line=3))
    assert (rejection.rule, rejection.line, rejection.column, rejection.message) == (
        "missing-value",
        3,
        "torque_nm",
        "torque_nm is empty",
    )


@pytest.mark.parametrize("cell", ["nan", "inf", "-inf", "1e400"])
def test_a_value_that_is_not_finite_is_rejected(cell: str) -> None:
    rejection = rejected(SHIPPED.parse_row([*cells(GOOD)[:4], cell, *cells(GOOD)[5:]]))
    assert (rejection.rule, rejection.column, rejection.value, rejection.message) == (
        "not-finite",
        "torque_nm",
        cell,
        "torque_nm must be finite",
    )


@pytest.mark.parametrize("value", [-(10**400), 2**1023, -(2**1023)], ids=["-10**400", "2**1023", "-2**1023"])
def test_a_json_integer_past_float_range_is_infinite_either_way(value: int) -> None:
    rejection = rejected(SHIPPED.parse_record(GOOD | {"torque_nm": value}))
    assert (rejection.rule, rejection.column) == ("not-finite", "torque_nm")


def test_the_largest_json_integer_a_float_holds_is_a_finite_number() -> None:
    unbounded = SHIPPED.model_copy(update={"features": [SHIPPED.features[0].model_copy(update={"max": None})]})
    values = unbounded.parse_record({"failure_within_horizon": 0, "air_temperature_k": 2**1023 - 1})
    assert values == [0, float(2**1023 - 1)]


# The label: one of its values


@pytest.mark.parametrize(("value", "label"), [(0, 0), (1, 1), (1.0, 1), ("1", 1), ("1.0", 1), (" 0 ", 0)])
def test_the_label_takes_each_of_its_values_as_an_int(value: Any, label: int) -> None:
    values = SHIPPED.parse_record(GOOD | {"failure_within_horizon": value})
    assert not isinstance(values, Rejection)
    assert (values[0], type(values[0])) == (label, int)


@pytest.mark.parametrize("value", [2, -1, 0.5, "2", "yes", "", None, 1e400])
def test_a_label_not_among_its_values_is_rejected_with_the_values_it_may_take(value: Any) -> None:
    rejection = rejected(SHIPPED.parse_record(GOOD | {"failure_within_horizon": value}))
    assert (rejection.rule, rejection.column, rejection.message) == (
        "label",
        "failure_within_horizon",
        "failure_within_horizon must be one of 0, 1",
    )


@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_label_is_a_type_error_though_python_counts_true_as_one(value: bool) -> None:
    rejection = rejected(SHIPPED.parse_record(GOOD | {"failure_within_horizon": value}))
    assert (rejection.rule, rejection.column, rejection.value) == ("type", "failure_within_horizon", json.dumps(value))


def test_a_label_with_other_values_takes_those_alone() -> None:
    graded = SHIPPED.model_copy(update={"label": LabelSpec(name="grade", values=[3, 5, 7])})
    assert graded.parse_row(["5", *cells(GOOD)[1:]]) == [5, *GOOD_VALUES[1:]]
    rejection = rejected(graded.parse_row(["4", *cells(GOOD)[1:]]))
    assert (rejection.rule, rejection.column, rejection.message) == ("label", "grade", "grade must be one of 3, 5, 7")


# Missing and extra fields, and rows of another width


@pytest.mark.parametrize("name", SHIPPED.columns)
def test_a_record_without_a_field_is_rejected_naming_it(name: str) -> None:
    record = {key: value for key, value in GOOD.items() if key != name}
    rejection = rejected(SHIPPED.parse_record(record))
    assert (rejection.rule, rejection.column, rejection.message) == ("missing-field", name, f"missing field {name!r}")


def test_a_record_missing_a_field_and_holding_an_extra_one_is_rejected_for_the_missing_one() -> None:
    record = {key: value for key, value in GOOD.items() if key != "torque_nm"} | {"site": "lyon"}
    rejection = rejected(SHIPPED.parse_record(record))
    assert (rejection.rule, rejection.column) == ("missing-field", "torque_nm")


def test_a_schema_that_rejects_unknown_fields_names_the_first_in_alphabetical_order() -> None:
    strict = SHIPPED.model_copy(update={"unknown_fields": "reject"})
    rejection = rejected(strict.parse_record(GOOD | {"zone": 1, "site": "lyon"}))
    assert (rejection.rule, rejection.column, rejection.message) == ("unknown-field", "site", "unknown field 'site'")


def test_a_schema_that_rejects_unknown_fields_takes_a_record_with_exactly_its_fields() -> None:
    strict = SHIPPED.model_copy(update={"unknown_fields": "reject"})
    assert strict.parse_record(GOOD) == GOOD_VALUES
    assert strict._check_record(GOOD) == GOOD_VALUES


def test_a_record_with_extra_fields_is_checked_by_the_column_checks_too() -> None:
    # Given a record with an extra field and a bad value: the bad value is what it is rejected for
    rejection = rejected(SHIPPED.parse_record(GOOD | {"site": "lyon", "torque_nm": 250}))
    assert (rejection.rule, rejection.column) == ("max", "torque_nm")


@pytest.mark.parametrize(("record", "kind"), [([1, 2], "list"), ("text", "str"), (None, "NoneType"), (7, "int")])
def test_a_record_that_is_not_an_object_is_rejected_saying_what_it_is(record: Any, kind: str) -> None:
    rejection = rejected(SHIPPED.parse_record(record))
    assert (rejection.rule, rejection.message) == ("not-object", f"expected a JSON object, got {kind}")


@pytest.mark.parametrize("width", [0, 1, 6, 8])
def test_a_csv_row_of_another_width_is_rejected_with_the_columns_expected(width: int) -> None:
    row = (cells(GOOD) * 2)[:width]
    rejection = rejected(SHIPPED.parse_row(row, line=5))
    assert (rejection.rule, rejection.line, rejection.value) == ("column-count", 5, ",".join(row))
    assert rejection.message == f"expected 7 columns ({', '.join(SHIPPED.columns)}), found {width}"


def test_a_long_value_is_shown_cut_to_200_characters() -> None:
    rejection = rejected(SHIPPED.parse_row([*cells(GOOD)[:4], "x" * 300, *cells(GOOD)[5:]]))
    assert rejection.value == "x" * 200


# The fast path for plain JSON records


def test_a_plain_record_with_an_extra_field_takes_the_fast_path_unless_unknown_fields_are_rejected() -> None:
    assert SHIPPED._plain_records(GOOD | {"site": "lyon"}) == GOOD_VALUES
    strict = SHIPPED.model_copy(update={"unknown_fields": "reject"})
    assert strict._plain_records(GOOD) == GOOD_VALUES
    assert strict._plain_records(GOOD | {"site": "lyon"}) is None


def test_a_plain_record_at_the_bounds_takes_the_fast_path() -> None:
    lowest = GOOD | {feature.name: feature.min for feature in SHIPPED.features} | {"tool_wear_min": 0}
    highest = GOOD | {feature.name: feature.max for feature in SHIPPED.features} | {"tool_wear_min": 600}
    assert SHIPPED._plain_records(lowest) == [1, 250.0, 250.0, 0.0, 0.0, 0, 0.0]
    assert SHIPPED._plain_records(highest) == [1, 350.0, 400.0, 5000.0, 200.0, 600, 100.0]


def test_a_schema_of_one_column_takes_a_record_of_its_label() -> None:
    label_only = SHIPPED.model_copy(update={"features": []})
    assert label_only._plain_records({"failure_within_horizon": 1}) == [1]
    assert label_only.parse_record({"failure_within_horizon": 0}) == [0]


# The schema file


MINIMAL: dict[str, Any] = {"name": "s", "label": {"name": "y", "values": [0, 1]}, "features": [{"name": "x"}]}


@pytest.mark.parametrize(
    ("document", "location"),
    [
        ({key: value for key, value in MINIMAL.items() if key != "name"}, "name"),
        ({key: value for key, value in MINIMAL.items() if key != "label"}, "label"),
        ({key: value for key, value in MINIMAL.items() if key != "features"}, "features"),
        (MINIMAL | {"label": {"name": "y", "values": ["no"]}}, "label.values.0"),
        (MINIMAL | {"features": [{"type": "number"}]}, "features.0.name"),
        (MINIMAL | {"features": [{"name": "x", "type": "categorical"}]}, "features.0.type"),
        (MINIMAL | {"features": [{"name": "x", "min": "low"}]}, "features.0.min"),
        (MINIMAL | {"unknown_fields": "drop"}, "unknown_fields"),
        (MINIMAL | {"metadata": [{}]}, "metadata.0.name"),
    ],
)
def test_a_schema_file_that_is_not_one_is_refused_naming_what_is_wrong(document: dict[str, Any], location: str) -> None:
    with pytest.raises(ValidationError) as raised:
        FeatureSchema.model_validate_json(json.dumps(document))
    assert [".".join(map(str, error["loc"])) for error in raised.value.errors()] == [location]
    assert location in str(raised.value)


def test_a_schema_that_is_not_json_is_refused() -> None:
    with pytest.raises(ValidationError, match="Invalid JSON"):
        FeatureSchema.model_validate_json('{"name": "s",')


def test_a_schema_name_with_no_file_is_a_configuration_error_naming_it() -> None:
    with pytest.raises(ConfigurationError, match=r"^FEATURE_SCHEMA: no schema named 'nope' in conveyor/schemas/$"):
        load_schema("nope")


def test_a_shipped_schema_is_loaded_by_its_name() -> None:
    schema = load_schema("predictive_maintenance_v2")
    assert schema.name == "predictive_maintenance_v2"
    assert schema.width == len(schema.features) + 1 == len(schema.columns)


# The version


def changed(**update: Any) -> FeatureSchema:
    return SHIPPED.model_copy(update=update)


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(changed(name="other"), id="name"),
        pytest.param(changed(label=LabelSpec(name="failure_within_horizon", values=[0, 1, 2])), id="label-values"),
        pytest.param(changed(label=LabelSpec(name="failed", values=[0, 1])), id="label-name"),
        pytest.param(changed(features=SHIPPED.features[::-1]), id="feature-order"),
        pytest.param(changed(features=SHIPPED.features[:-1]), id="feature-dropped"),
        pytest.param(
            changed(features=[*SHIPPED.features[:-1], SHIPPED.features[-1].model_copy(update={"max": 50.0})]),
            id="bound",
        ),
        pytest.param(
            changed(features=[*SHIPPED.features[:-1], SHIPPED.features[-1].model_copy(update={"type": "integer"})]),
            id="feature-type",
        ),
        pytest.param(changed(unknown_fields="reject"), id="unknown-fields"),
    ],
)
def test_a_change_to_what_the_schema_says_is_another_version(other: FeatureSchema) -> None:
    assert len(other.version) == 12
    assert other.version != SHIPPED.version
    assert other.layout.version == other.version


def test_the_description_does_not_change_the_version() -> None:
    assert changed(description="Another wording.").version == SHIPPED.version


def test_a_schema_read_afresh_hashes_as_the_parts_written_so_far_record() -> None:
    # Read afresh, so that this test computes the version itself rather than reading a cached one
    shipped = FeatureSchema.model_validate_json(SHIPPED.model_dump_json())
    with_metadata = FeatureSchema.model_validate(shipped.model_dump() | {"metadata": [{"name": "device_id"}]})
    assert shipped.version == "3eed156498e2"
    assert with_metadata.version != shipped.version
    assert with_metadata.version == FeatureSchema.model_validate_json(with_metadata.model_dump_json()).version


def test_the_version_is_the_same_for_the_same_schema_read_twice() -> None:
    again = FeatureSchema.model_validate_json(SHIPPED.model_dump_json())
    assert again.version == SHIPPED.version
    assert int(again.version, 16) >= 0


# Layouts


def layout(**update: Any) -> Layout:
    return SHIPPED.layout.model_copy(update=update)


def test_a_layout_is_the_label_then_the_features_and_names_its_schema() -> None:
    assert SHIPPED.layout.columns == SHIPPED.columns
    assert (SHIPPED.layout.schema_name, SHIPPED.layout.version) == ("predictive_maintenance", SHIPPED.version)


def test_layouts_with_the_same_names_have_the_same_columns_whatever_their_schemas_version() -> None:
    bounded = changed(features=[*SHIPPED.features[:-1], SHIPPED.features[-1].model_copy(update={"max": 50.0})])
    assert bounded.layout.same_columns(SHIPPED.layout)
    assert layout(schema_name="renamed", version="0" * 12).same_columns(SHIPPED.layout)


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(layout(label=LabelSpec(name="failure_within_horizon", values=[0, 1, 2])), id="label-values"),
        pytest.param(layout(label=LabelSpec(name="failed", values=[0, 1])), id="label-name"),
        pytest.param(layout(features=SHIPPED.layout.features[::-1]), id="feature-order"),
        pytest.param(layout(features=SHIPPED.layout.features[:-1]), id="feature-dropped"),
        pytest.param(layout(metadata=["device_id"]), id="metadata"),
    ],
)
def test_layouts_that_differ_in_one_name_or_label_value_do_not_have_the_same_columns(other: Layout) -> None:
    assert not other.same_columns(SHIPPED.layout)
    assert not SHIPPED.layout.same_columns(other)


def test_a_record_with_as_many_fields_as_the_schema_but_none_of_its_own_is_missing_the_label() -> None:
    record = {f"field_{index}": 1 for index in range(len(SHIPPED.columns))}
    rejection = rejected(SHIPPED.parse_record(record))
    assert (rejection.rule, rejection.column) == ("missing-field", "failure_within_horizon")


def test_a_long_row_is_shown_cut_to_200_characters() -> None:
    row = ["x" * 150] * 2
    rejection = rejected(SHIPPED.parse_row(row, line=2))
    assert rejection.value == ",".join(row)[:200]
    rejection = rejected(SHIPPED.csv_columns().parse_row(row, line=2))
    assert rejection.value == ",".join(row)[:200]


def test_a_long_header_is_shown_cut_to_200_characters() -> None:
    rejection = rejected(SHIPPED.read_header(["y" * 150] * 2))
    assert rejection.value == ",".join(["y" * 150] * 2)[:200]


def test_a_schema_of_two_columns_takes_both_on_the_fast_path() -> None:
    two = SHIPPED.model_copy(update={"features": [SHIPPED.features[3]]})
    assert two._plain_records({"failure_within_horizon": 1, "torque_nm": 42.8}) == [1, 42.8]
    assert two._plain_records({"failure_within_horizon": 1, "torque_nm": 250}) is None


def test_the_fast_path_takes_ints_up_to_the_largest_a_float_holds_and_leaves_the_rest_to_the_checks() -> None:
    # An unbounded number column: an int up to 2**1023 - 1 is a finite float
    unbounded = SHIPPED.model_copy(update={"features": [SHIPPED.features[0].model_copy(update={"max": None})]})
    assert unbounded._plain_records({"failure_within_horizon": 0, "air_temperature_k": 2**1023 - 1}) == [
        0,
        float(2**1023 - 1),
    ]
    assert unbounded._plain_records({"failure_within_horizon": 0, "air_temperature_k": 2**1023}) is None


@pytest.mark.parametrize(
    ("made", "field"),
    [
        pytest.param(lambda: rejected(SHIPPED.parse_row([])), "rule", id="rejection"),
        pytest.param(lambda: SHIPPED.layout, "version", id="layout"),
        pytest.param(lambda: SHIPPED, "name", id="schema"),
        pytest.param(SHIPPED.csv_columns, "metadata", id="csv-columns"),
        pytest.param(lambda: SHIPPED.csv_columns().parse_rows([]), "lines", id="checked-rows"),
        pytest.param(lambda: SHIPPED._columns[0], "name", id="column"),
        pytest.param(lambda: SHIPPED._plain_records, "width", id="plain-records"),
    ],
)
def test_what_a_schema_gives_cannot_be_changed_afterwards(made: Any, field: str) -> None:
    # What is derived from a schema is cached: changed in place, it would disagree with what was derived
    given = made()
    with pytest.raises((ValidationError, AttributeError)):
        setattr(given, field, None)
