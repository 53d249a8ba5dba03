"""The mutation harness's mutants: each operator makes the change it names, in the function it names,
and the compiled mutant behaves as changed (the harness's own scores rest on this)."""

from __future__ import annotations

from pathlib import Path
from types import CodeType
from typing import Any

import pytest

from conveyor_tools.mutation.mutants import Mutant, mutants, mutated_code

MODULE = '''"""A docstring is never mutated."""
from __future__ import annotations

LIMIT = 10


def admitted(rows: int, frozen: bool) -> bool:
    if TYPE_CHECKING:
        rows = 0
    return rows >= LIMIT and not frozen


def total(values: list[int]) -> int:
    count = 0
    for value in values:
        count += value
    return count * 2
'''


@pytest.fixture
def module(tmp_path: Path) -> Path:
    path = tmp_path / "module.py"
    path.write_text(MODULE)
    return path


def run(path: Path, mutant: Mutant) -> dict[str, Any]:
    code = mutated_code(path, mutant.index)
    assert isinstance(code, CodeType)
    namespace: dict[str, Any] = {"TYPE_CHECKING": False}
    exec(code, namespace)
    return namespace


def find(found: list[Mutant], mutation: str) -> Mutant:
    return next(mutant for mutant in found if mutant.mutation == mutation)


def test_each_operator_names_the_change_and_its_function(module: Path) -> None:
    found = mutants(module, module.parent)

    assert {(mutant.function, mutant.operator, mutant.mutation) for mutant in found} >= {
        ("<module>", "constant", "`10` → `11`"),
        ("admitted", "compare", "`>=` → `>` in `rows >= LIMIT`"),
        ("admitted", "boolean", "`and` → `or` in `rows >= LIMIT and (not frozen)`"),
        ("admitted", "negate", "`not frozen` → `frozen`"),
        ("total", "arithmetic", "`+` → `-` in `count += value`"),
        ("total", "delete", "`count += value` → `pass`"),
        ("total", "return", "`return count * 2` → `return None`"),
    }
    assert all(mutant.path == "module.py" for mutant in found)
    assert [mutant.index for mutant in found] == list(range(len(found)))


def test_docstrings_annotations_and_type_checking_blocks_are_left_alone(module: Path) -> None:
    found = mutants(module, module.parent)

    assert not [mutant for mutant in found if mutant.line in (1, 8, 9)]
    assert not [mutant for mutant in found if "int" in mutant.mutation or "bool" in mutant.mutation]


def test_a_comparison_mutant_moves_the_boundary(module: Path) -> None:
    found = mutants(module, module.parent)

    original = run(module, find(found, "`count = 0` → `pass`"))  # another function's mutant: this one as it was
    mutated = run(module, find(found, "`>=` → `>` in `rows >= LIMIT`"))

    assert original["admitted"](10, False) is True
    assert mutated["admitted"](10, False) is False
    assert mutated["admitted"](11, False) is True


def test_a_deletion_and_a_changed_return_each_change_the_result(module: Path) -> None:
    found = mutants(module, module.parent)

    assert run(module, find(found, "`count += value` → `pass`"))["total"]([1, 2]) == 0
    assert run(module, find(found, "`return count * 2` → `return None`"))["total"]([1, 2]) is None
    assert run(module, find(found, "`*` → `/` in `count * 2`"))["total"]([1, 2]) == 1.5


def test_a_mutant_keeps_its_lines_for_the_tests_that_cover_them(module: Path) -> None:
    boolean = find(mutants(module, module.parent), "`and` → `or` in `rows >= LIMIT and (not frozen)`")

    assert list(boolean.lines) == [10]


def test_an_index_past_the_last_mutant_is_refused(module: Path) -> None:
    count = len(mutants(module, module.parent))

    with pytest.raises(IndexError, match=f"has {count} mutants"):
        mutated_code(module, count)


def test_a_keyword_constant_is_named_with_its_keyword(tmp_path: Path) -> None:
    path = tmp_path / "record.py"
    path.write_text(
        "import dataclasses\n\n\n@dataclasses.dataclass(frozen=True, slots=True)\nclass Record:\n    rows: int = 0\n"
    )

    found = {mutant.mutation for mutant in mutants(path, tmp_path)}

    assert {"`frozen=True` → `frozen=False`", "`slots=True` → `slots=False`"} <= found
    assert "`True` → `False`" not in found


def test_the_same_change_twice_in_a_function_is_told_apart_by_its_occurrence(tmp_path: Path) -> None:
    path = tmp_path / "twice.py"
    path.write_text("def pick(flag: bool) -> int:\n    if flag:\n        return 1 + flag\n    return 1 + flag\n")

    mutations = [mutant.mutation for mutant in mutants(path, tmp_path) if mutant.operator == "negate"]
    returns = [mutant.mutation for mutant in mutants(path, tmp_path) if mutant.operator == "return"]

    assert mutations == ["`if flag` → `if not (flag)`"]
    assert returns == ["`return 1 + flag` → `return None`", "`return 1 + flag` → `return None` (occurrence 2)"]
