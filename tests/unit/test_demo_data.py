"""The demo's data from a user's CSV: rows read under their schema, rounds drawn from them, and the
schema put where the stack's functions read schemas."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from conveyor.schema import FeatureSchema
from conveyor_tools.demo.data import DemoDataError, FromCsv, Generated, bad_records, bad_rows, csv_body, install_schema

SCHEMA = {
    "name": "loans",
    "label": {"name": "defaulted", "values": [0, 1]},
    "features": [
        {"name": "income_k", "type": "number", "min": 0.0, "max": 500.0},
        {"name": "late", "type": "integer", "min": 0, "max": 10},
    ],
    "metadata": [{"name": "region"}],
}


def written(tmp_path: Path, lines: list[str], schema: dict[str, object] = SCHEMA) -> tuple[Path, Path]:
    data, schema_path = tmp_path / "loans.csv", tmp_path / "loans.json"
    data.write_text("\n".join(["region,income_k,late,defaulted", *lines]) + "\n")
    schema_path.write_text(json.dumps(schema))
    return data, schema_path


def rows(count: int) -> list[str]:
    return [f"north,{40 + i % 97}.5,{i % 4},{i % 2}" for i in range(count)]


def test_rows_are_read_under_the_schema_and_those_outside_it_are_counted(tmp_path: Path) -> None:
    outside = ["south,600,1,0", "east,nan,1,1", "west,12,x,0", "west,12,1,7", "west,,1,0", "west,12,1,0.5"]
    data = FromCsv.load(*written(tmp_path, [*rows(60), "south,12,1,1.0", *outside]))
    assert (len(data.rows), data.left_out) == (61, 6)
    assert data.rows[-1]["defaulted"] == 1
    assert data.rows[1] == {"defaulted": 1, "income_k": 41.5, "late": 1, "region": "north"}
    assert "61 rows of" in data.describe()
    assert "6 rows outside the schema left out" in data.describe()


@pytest.mark.parametrize(
    ("lines", "schema", "message"),
    [
        (rows(60), {"name": "x"}, "not a feature schema"),
        (["north,1,1"], SCHEMA | {"features": [{"name": "debt"}]}, "line 1: no column 'debt' of schema 'loans'"),
        (rows(49), SCHEMA, "49 usable rows"),
        ([f"north,{i}.0,1,0" for i in range(60)], SCHEMA, "labels [0]"),
        (rows(60), SCHEMA | {"label": {"name": "defaulted", "values": [1, 2]}}, "takes [1, 2]"),
        (["north,1,1"], SCHEMA | {"metadata": [{"name": "branch"}]}, "no column 'branch'"),
    ],
)
def test_a_file_the_demo_cannot_use_is_refused_with_what_is_wrong(
    tmp_path: Path, lines: list[str], schema: dict[str, object], message: str
) -> None:
    with pytest.raises(DemoDataError, match=message.replace("[", r"\[").replace("]", r"\]")):
        FromCsv.load(*written(tmp_path, lines, schema))


def test_rounds_take_each_row_once_until_all_are_used_and_shuffling_keeps_the_labels(tmp_path: Path) -> None:
    data, again = (FromCsv.load(*written(tmp_path, rows(60))) for _ in range(2))
    # Rounds take the file's rows in one shuffled order: each once until all are used, then again
    first, second = data.fresh(40, seed=1), data.fresh(40, seed=2)
    assert [*first, *second] == data.order + data.order[:20]
    assert sorted(map(str, data.order)) == sorted(map(str, data.rows)) != list(map(str, data.order))
    assert again.fresh(40, seed=9) == first
    # Shuffling the labels keeps each row's features and the labels' counts, not their places
    plain, labels_shuffled = (FromCsv.load(*written(tmp_path, rows(60))) for _ in range(2))
    fresh, shuffled = plain.fresh(60, seed=1), labels_shuffled.shuffled(60, seed=1)
    assert [row["income_k"] for row in shuffled] == [row["income_k"] for row in fresh]
    assert Counter(row["defaulted"] for row in shuffled) == Counter(row["defaulted"] for row in fresh)
    assert [row["defaulted"] for row in shuffled] != [row["defaulted"] for row in fresh]


def test_the_drifted_round_keeps_the_top_of_the_feature_with_the_most_values(tmp_path: Path) -> None:
    data = FromCsv.load(*written(tmp_path, rows(100)))
    drifted, feature, how = data.drifted(300, seed=1)
    assert feature == "income_k"
    cutoff = sorted(row["income_k"] for row in data.rows)[70]
    assert min(row["income_k"] for row in drifted) >= cutoff
    assert "top 30%" in how


def test_bad_inputs_are_made_from_the_schema(tmp_path: Path) -> None:
    data = FromCsv.load(*written(tmp_path, rows(60)))
    missing, not_json, outside = bad_records(data)
    assert json.loads(missing) == {"defaulted": 1}
    assert not_json == "not json at all"
    assert json.loads(outside)["income_k"] == 500 * 10 + 1000
    text, nan = bad_rows(data)
    assert (text["income_k"], nan["late"]) == ("fast", "nan")
    label = text["defaulted"]
    assert csv_body([text], ["defaulted", "income_k"]).decode().splitlines() == ["defaulted,income_k", f"{label},fast"]


def test_the_generated_data_drifts_in_torque() -> None:
    drifted, feature, _ = Generated().drifted(50, seed=3)
    fresh = Generated().fresh(50, seed=3)
    assert feature == "torque_nm"
    assert [row["torque_nm"] for row in drifted] == [round(float(row["torque_nm"]) * 1.6, 1) for row in fresh]


def test_a_file_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    data, schema = written(tmp_path, rows(60))
    data.write_bytes("\ufeff".encode() + data.read_bytes())
    assert len(FromCsv.load(data, schema).rows) == 60


def test_the_schema_goes_beside_the_stacks_schemas_once(tmp_path: Path) -> None:
    schema = FeatureSchema.model_validate(SCHEMA)
    installed = install_schema(schema, tmp_path / "mine.json", tmp_path)
    assert installed == tmp_path / "loans.json"
    assert FeatureSchema.model_validate_json(installed.read_text()) == schema
    # The same schema again is fine; another of the same name is refused, naming both files
    assert install_schema(schema, tmp_path / "mine.json", tmp_path) == installed
    other = schema.model_copy(update={"description": "another"})
    with pytest.raises(DemoDataError, match="a different schema named 'loans' is already at"):
        install_schema(other, tmp_path / "mine.json", tmp_path)
