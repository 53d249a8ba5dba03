"""The mutants of one module: each is one small change to its syntax tree.

The operators are the classic ones, each a bug a test should notice:

- ``compare``: ``<`` and ``<=``, ``>`` and ``>=``, ``==`` and ``!=``, ``in`` and ``not in``, ``is`` and
  ``is not`` swapped (the off-by-one at a threshold, the inverted check);
- ``boolean``: ``and`` and ``or`` swapped;
- ``negate``: the condition of an ``if``, ``while``, conditional expression or comprehension negated,
  and a ``not`` removed;
- ``constant``: a number plus one, ``True`` and ``False`` swapped;
- ``arithmetic``: ``+`` and ``-``, ``*`` and ``/``, ``//`` to ``/`` (in expressions and augmented
  assignments);
- ``delete``: a simple statement (a call, an assignment, a ``raise``, a ``break``) replaced by ``pass``;
- ``return``: a returned value replaced by ``None`` (a returned constant is a ``constant`` mutant).

Strings are left alone (a changed message is rarely a bug), and so are type annotations, which
Python does not run. A mutant is named by its module, the function it is in and what it changes,
so the list of equivalent mutants survives edits elsewhere in the module; the same change made twice
in one function is told apart by its occurrence ("(occurrence 2)").
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

_SWAPPED_COMPARISONS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_SWAPPED_ARITHMETIC: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
}
_DELETABLE = (ast.Expr, ast.Assign, ast.AugAssign, ast.Raise, ast.Break, ast.Continue, ast.Delete)
# Fields Python never evaluates at run time here (``from __future__ import annotations`` everywhere).
_NOT_RUN = frozenset({"annotation", "returns", "type_comment", "type_params"})
_SHOWN = 70


@dataclass(frozen=True)
class Mutant:
    """One change to a module: where it is and what it does."""

    path: str
    index: int
    line: int
    end_line: int
    function: str
    operator: str
    mutation: str
    at_import: bool = False
    """The mutated code runs when the module is imported (a constant, a decorator, a class body)."""

    @property
    def lines(self) -> range:
        return range(self.line, self.end_line + 1)


@dataclass(frozen=True)
class _Change:
    operator: str
    mutation: str
    replace: Callable[[ast.AST], ast.AST]


@dataclass(frozen=True)
class _Site:
    node: ast.AST
    function: str
    at_import: bool
    set_node: Callable[[ast.AST], None]


def mutants(path: Path, root: Path) -> list[Mutant]:
    """Every mutant of the module at ``path`` (``root`` makes its name relative)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[Mutant] = []
    seen: dict[tuple[str, str], int] = {}
    for site in _sites(tree):
        changes = _changes(site.node)
        if not changes:
            continue
        line, end_line = _span(site.node)
        for change in changes:
            # The same change twice in one function is told apart by its occurrence, in source order.
            mutation = change.mutation
            occurrence = seen[site.function, mutation] = seen.get((site.function, mutation), 0) + 1
            found.append(
                Mutant(
                    path=path.relative_to(root).as_posix(),
                    index=len(found),
                    line=line,
                    end_line=end_line,
                    function=site.function,
                    operator=change.operator,
                    mutation=mutation if occurrence == 1 else f"{mutation} (occurrence {occurrence})",
                    at_import=site.at_import,
                )
            )
    return found


def mutated_code(path: Path, index: int) -> object:
    """The module at ``path`` with its mutant number ``index`` applied, compiled."""
    tree = ast.parse(path.read_text(), filename=str(path))
    count = 0
    for site in _sites(tree):
        changes = _changes(site.node)
        if index < count + len(changes):
            site.set_node(changes[index - count].replace(site.node))
            return compile(ast.fix_missing_locations(tree), str(path), "exec", dont_inherit=True)
        count += len(changes)
    raise IndexError(f"{path} has {count} mutants, not {index + 1}")


def _sites(tree: ast.Module) -> Iterator[_Site]:
    """Every node that may be mutated, depth first in source order, with its enclosing function and
    whether it runs when the module is imported (a function's body runs only when it is called)."""

    def visit(node: ast.AST, function: str, at_import: bool) -> Iterator[_Site]:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            function = node.name if function == "<module>" else f"{function}.{node.name}"
        for field, value in ast.iter_fields(node):
            if field in _NOT_RUN or (isinstance(node, ast.AnnAssign) and field == "target"):
                continue
            if isinstance(node, ast.keyword) and isinstance(value, ast.Constant):
                continue  # the keyword's own mutant names it: `frozen=True` → `frozen=False`
            inside = at_import and not (isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and field == "body")
            children = value if isinstance(value, list) else [value]
            for position, child in enumerate(children):
                if isinstance(child, ast.AST) and not _skipped(child):
                    setter = _list_setter(value, position) if isinstance(value, list) else _field_setter(node, field)
                    yield _Site(child, function, inside, setter)
                    yield from visit(child, function, inside)

    yield from visit(tree, "<module>", True)


def _span(node: ast.AST) -> tuple[int, int]:
    """The lines of ``node`` (a comprehension has none of its own: those of what it holds)."""
    located = [child for child in ast.walk(node) if isinstance(child, ast.expr | ast.stmt)]
    return min(child.lineno for child in located), max(child.end_lineno or child.lineno for child in located)


def _skipped(node: ast.AST) -> bool:
    """Docstrings and ``if TYPE_CHECKING:`` blocks, which no test can tell apart when changed."""
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
        return True
    return isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def _list_setter(values: list[ast.AST], position: int) -> Callable[[ast.AST], None]:
    def set_node(new: ast.AST) -> None:
        values[position] = new

    return set_node


def _field_setter(parent: ast.AST, field: str) -> Callable[[ast.AST], None]:
    def set_node(new: ast.AST) -> None:
        setattr(parent, field, new)

    return set_node


def _changes(node: ast.AST) -> list[_Change]:
    """What may be changed in ``node``: an operator or constant of an expression, or a statement."""
    return _operator_changes(node) + _statement_changes(node)


def _operator_changes(node: ast.AST) -> list[_Change]:
    if isinstance(node, ast.Compare):
        return [
            _compare_change(node, position, _SWAPPED_COMPARISONS[type(op)])
            for position, op in enumerate(node.ops)
            if type(op) in _SWAPPED_COMPARISONS
        ]
    if isinstance(node, ast.BoolOp):
        other = ast.Or if isinstance(node.op, ast.And) else ast.And
        return [_Change("boolean", _swap(node.op, other(), node), lambda n: _rebuilt(n, op=other()))]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return [_Change("negate", f"`{_short(node)}` → `{_short(node.operand)}`", lambda n: n.operand)]  # type: ignore[attr-defined]
    if isinstance(node, ast.Constant | ast.keyword):
        return _constant_changes(node)
    if isinstance(node, ast.BinOp | ast.AugAssign) and type(node.op) in _SWAPPED_ARITHMETIC:
        new_op = _SWAPPED_ARITHMETIC[type(node.op)]
        return [_Change("arithmetic", _swap(node.op, new_op(), node), lambda n: _rebuilt(n, op=new_op()))]
    return []


def _statement_changes(node: ast.AST) -> list[_Change]:
    changes = []
    if isinstance(node, ast.If | ast.While | ast.IfExp):
        changes.append(_negation(node))
    if isinstance(node, ast.comprehension):
        changes += [_condition_negation(position, test) for position, test in enumerate(node.ifs)]
    if isinstance(node, _DELETABLE):
        changes.append(_deletion(node))
    if isinstance(node, ast.Return) and node.value is not None and not isinstance(node.value, ast.Constant):
        changes.append(_Change("return", f"`{_short(node)}` → `return None`", lambda n: _rebuilt(n, value=None)))
    return changes


def _compare_change(node: ast.Compare, position: int, new_op: type[ast.cmpop]) -> _Change:
    def replace(original: ast.AST) -> ast.AST:
        ops = list(original.ops)  # type: ignore[attr-defined]
        ops[position] = new_op()
        return _rebuilt(original, ops=ops)

    return _Change("compare", _swap(node.ops[position], new_op(), node), replace)


def _constant_changes(node: ast.Constant | ast.keyword) -> list[_Change]:
    if isinstance(node, ast.keyword):
        constant = node.value
        return (
            [_keyword_change(node, change) for change in _constant_changes(constant)]
            if isinstance(constant, ast.Constant)
            else []
        )
    value = node.value
    if isinstance(value, bool):
        return [_Change("constant", f"`{value}` → `{not value}`", lambda n: _rebuilt(n, value=not value))]
    if isinstance(value, int | float):
        return [_Change("constant", f"`{value!r}` → `{value + 1!r}`", lambda n: _rebuilt(n, value=value + 1))]
    return []


def _keyword_change(node: ast.keyword, change: _Change) -> _Change:
    new_value = change.replace(node.value)
    return _Change(
        "constant",
        f"`{_short(node)}` → `{_short(_rebuilt(node, value=new_value))}`",
        lambda n: _rebuilt(n, value=new_value),
    )


def _negation(node: ast.If | ast.While | ast.IfExp) -> _Change:
    keyword = {ast.If: "if", ast.While: "while", ast.IfExp: "… if"}[type(node)]
    return _Change(
        "negate",
        f"`{keyword} {_short(node.test)}` → `{keyword} not ({_short(node.test)})`",
        lambda n: _rebuilt(n, test=ast.UnaryOp(op=ast.Not(), operand=n.test)),  # type: ignore[attr-defined]
    )


def _condition_negation(position: int, test: ast.expr) -> _Change:
    def replace(original: ast.AST) -> ast.AST:
        ifs = list(original.ifs)  # type: ignore[attr-defined]
        ifs[position] = ast.UnaryOp(op=ast.Not(), operand=ifs[position])
        return _rebuilt(original, ifs=ifs)

    return _Change("negate", f"`if {_short(test)}` → `if not ({_short(test)})`", replace)


def _deletion(node: ast.stmt) -> _Change:
    return _Change("delete", f"`{_short(node)}` → `pass`", lambda n: ast.copy_location(ast.Pass(), n))


def _rebuilt(node: ast.AST, **fields: object) -> ast.AST:
    new = copy.copy(node)
    for name, value in fields.items():
        setattr(new, name, value)
    return new


_SYMBOLS = {
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.In: "in",
    ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not", ast.And: "and", ast.Or: "or", ast.Add: "+",
    ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
}  # fmt: skip


def _swap(old: ast.AST, new: ast.AST, node: ast.AST) -> str:
    return f"`{_SYMBOLS[type(old)]}` → `{_SYMBOLS[type(new)]}` in `{_short(node)}`"


def _short(node: ast.AST) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"
