"""``conveyor schema diff``: what a schema change does to the data, said before it is deployed."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.schema import FeatureSpec, LabelSpec, load_schema
from conveyor_tools.operator_cli import main
from conveyor_tools.schema_diff import describe

OLD = load_schema("predictive_maintenance")
NEW = load_schema("predictive_maintenance_v2")


def test_a_gained_and_a_lost_feature_are_named_with_what_becomes_of_existing_rows() -> None:
    lines = describe(OLD, NEW)
    assert lines[0] == f"predictive_maintenance {OLD.version} -> predictive_maintenance_v2 {NEW.version}"
    assert "  + humidity_pct (number, 0..100): existing rows get it empty, read as missing" in lines
    assert "  - vibration_mm_s: dropped from existing rows" in lines
    assert any("lays each part it uses out again" in line for line in lines)
    assert any("waits for approval" in line for line in lines)


def test_a_bound_change_rewrites_nothing() -> None:
    features = [*OLD.features[:-1], FeatureSpec(name="vibration_mm_s", min=0.0, max=50.0)]
    tightened = OLD.model_copy(update={"features": features})
    lines = describe(OLD, tightened)
    assert (
        "  ~ vibration_mm_s: number, 0..100 -> number, 0..50 (checked on new rows; existing rows are not checked again)"
        in lines
    )
    assert lines[-1] == "  - no part is rewritten: the columns are the same."
    assert not any("approval" in line for line in lines)


def test_a_new_label_excludes_every_existing_part() -> None:
    relabelled = OLD.model_copy(update={"label": LabelSpec(name="failure_within_horizon", values=[0, 1, 2])})
    lines = describe(OLD, relabelled)
    assert any(
        line.startswith("  ! label failure_within_horizon [0, 1] -> failure_within_horizon [0, 1, 2]") for line in lines
    )
    assert not any("lays each part" in line for line in lines)
    assert any("waits for approval" in line for line in lines)


def test_reordered_features_are_laid_out_in_the_new_order() -> None:
    reordered = OLD.model_copy(update={"features": OLD.features[::-1]})
    assert "  ~ features are in another order: existing rows are laid out in the new one" in describe(OLD, reordered)


def test_the_same_schema_changes_nothing() -> None:
    assert describe(OLD, OLD)[1] == "The schemas say the same: nothing changes."


def test_the_cli_reads_names_and_files_and_names_a_missing_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = tmp_path / "edited.json"
    edited.write_text(NEW.model_dump_json(), encoding="utf-8")
    assert main(["schema", "diff", "predictive_maintenance", str(edited)]) == 0
    assert "+ humidity_pct" in capsys.readouterr().out
    assert main(["schema", "diff", "predictive_maintenance", "nope"]) == 1
    assert "no schema named 'nope'" in capsys.readouterr().err
    (tmp_path / "broken.json").write_text('{"name": "x"}', encoding="utf-8")
    assert main(["schema", "diff", "predictive_maintenance", str(tmp_path / "broken.json")]) == 1
    assert "broken.json: not a feature schema" in capsys.readouterr().err
