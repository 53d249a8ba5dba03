"""The project's own modules import each other in one direction: no module imports one that imports it back."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = {
    "localcloud": ROOT / "localcloud",
    "conveyor": ROOT / "layers" / "shared" / "conveyor",
    "conveyor_tools": ROOT / "conveyor_tools",
}


def module_files() -> dict[str, Path]:
    modules = {}
    for package, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            parts = [package, *path.relative_to(root).with_suffix("").parts]
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (type-checking imports included)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # "from package import module" imports the module; "from module import name", the module.
                submodules = {f"{node.module}.{alias.name}" for alias in node.names} & modules.keys()
                graph[name] |= submodules or ({node.module} & modules.keys())
            elif isinstance(node, ast.Import):
                graph[name] |= {alias.name for alias in node.names if alias.name in modules}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of two or more modules that reach each other through imports."""

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for target in graph[todo.pop()] - seen:
                seen.add(target)
                todo.append(target)
        return seen

    reach = {module: reachable(module) for module in graph}
    groups = {
        tuple(sorted({module} | {other for other in reach[module] if module in reach[other]}))
        for module in graph
        if module in reach[module]
    }
    return sorted(list(group) for group in groups if len(group) > 1)


def test_the_cycle_finder_sees_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_a_module_that_imports_it_back() -> None:
    assert cycles(imports(module_files())) == []


def test_the_local_cloud_and_the_layer_import_nothing_from_the_tools() -> None:
    # The tools use the emulator (and, later, a deployed stack); the emulator never needs them.
    graph = imports(module_files())
    tools = {module for module in graph if module.startswith("conveyor_tools")}
    leaks = {module: graph[module] & tools for module in graph if module not in tools and graph[module] & tools}
    assert leaks == {}
