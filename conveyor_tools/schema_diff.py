"""``conveyor schema diff OLD NEW``: what deploying another feature schema does to the data in the stack.

OLD and NEW are schema names (layers/shared/conveyor/schemas/<name>.json) or paths to schema files.
The answer follows the rules the stack applies (conveyor.compaction): a part in other columns is
laid out again by the next run, by name; a part with another label is excluded; and the first
model trained on other columns waits for a person's approval.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from conveyor.errors import ConfigurationError
from conveyor.schema import FeatureSchema, FeatureSpec, load_schema


class SchemaFileError(Exception):
    """A schema argument names no schema, or a file that is not one."""


def load(argument: str) -> FeatureSchema:
    """The schema a path (anything ending in .json) or a name of the stack's schemas names."""
    if not argument.endswith(".json"):
        try:
            return load_schema(argument)
        except ConfigurationError as error:
            raise SchemaFileError(
                f"no schema named {argument!r} in layers/shared/conveyor/schemas/ (a file's path ends in .json)"
            ) from error
    path = Path(argument)
    try:
        return FeatureSchema.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SchemaFileError(f"{argument}: {error.strerror}") from error
    except ValidationError as error:
        raise SchemaFileError(f"{argument}: not a feature schema: {error}") from error


def describe(old: FeatureSchema, new: FeatureSchema) -> list[str]:
    """What changes from ``old`` to ``new``, and what the stack does about it, line by line."""
    lines = [f"{old.name} {old.version} -> {new.name} {new.version}"]
    if old.version == new.version:
        return [*lines, "The schemas say the same: nothing changes."]
    before = {feature.name: feature for feature in old.features}
    after = {feature.name: feature for feature in new.features}
    for feature in new.features:
        if feature.name not in before:
            lines.append(f"  + {feature.name} ({_spec(feature)}): existing rows get it empty, read as missing")
        elif before[feature.name] != feature:
            lines.append(
                f"  ~ {feature.name}: {_spec(before[feature.name])} -> {_spec(feature)} "
                "(checked on new rows; existing rows are not checked again)"
            )
    lines += [f"  - {name}: dropped from existing rows" for name in before if name not in after]
    kept = [name for name in before if name in after]
    if kept != [name for name in after if name in before]:
        lines.append("  ~ features are in another order: existing rows are laid out in the new one")
    old_layout, new_layout = old.layout, new.layout
    relabelled = old_layout.label != new_layout.label
    if relabelled:
        lines.append(
            f"  ! label {old.label.name} {old.label.values} -> {new.label.name} {new.label.values}: every existing "
            "part is excluded from training (the run's excluded.json says why), and only new data trains"
        )
    if old.unknown_fields != new.unknown_fields:
        lines.append(f"  ~ unknown fields: {old.unknown_fields} -> {new.unknown_fields} (new records only)")
    lines.append("On deploy:")
    if old_layout.same_columns(new_layout):
        lines.append("  - no part is rewritten: the columns are the same.")
        return lines
    if not relabelled:
        lines.append(
            "  - the next run lays each part it uses out again in the new columns, once (its Compact small parts "
            "map), before it trains; no run trains on mixed columns."
        )
    lines.append(
        "  - the first model trained on the new columns waits for approval, whatever ApprovalMode says: "
        "the endpoint and the devices must then be sent them."
    )
    return lines


def _spec(feature: FeatureSpec) -> str:
    low = "" if feature.min is None else f"{feature.min:g}"
    high = "" if feature.max is None else f"{feature.max:g}"
    return f"{feature.type}, {low}..{high}"
