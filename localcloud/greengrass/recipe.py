"""What a core device reads in a recipe (format 2020-01-25): its manifest, lifecycle and configuration.

A device takes the first manifest whose ``Platform`` matches its own (each attribute equal, ``*``,
or a ``/regular expression/``; a manifest without a platform matches every device). The lifecycle
is the manifest's, or the recipe's top-level one. Recipe variables are replaced as the nucleus
replaces them: ``{artifacts:path}``, ``{artifacts:decompressedPath}``, ``{work:path}``,
``{configuration:/Pointer}`` and ``{iot:thingName}``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_INSTALL_TIMEOUT_SECONDS = 120.0
"""The nucleus's default ``Timeout`` of an Install (and Startup) step."""

_VARIABLE = re.compile(r"\{(artifacts:path|artifacts:decompressedPath|work:path|iot:thingName|configuration:[^}]*)\}")


class RecipeError(Exception):
    """The recipe cannot run on this device (no manifest for its platform, a malformed step)."""


@dataclass(frozen=True)
class Step:
    """One lifecycle step: its script, extra environment, and timeout in seconds (None: none)."""

    script: str
    setenv: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None


@dataclass(frozen=True)
class Paths:
    """Where a component version's files are on its device."""

    artifacts: Path
    decompressed: Path
    work: Path


def matches(platform: dict[str, str], wanted: dict[str, Any]) -> bool:
    """Whether a device of ``platform`` (``os``, ``architecture``) fits a manifest's ``Platform``."""
    for key, expected in wanted.items():
        value = platform.get(key, "")
        pattern = str(expected)
        if pattern in ("*", value):
            continue
        if (
            len(pattern) > 1
            and pattern.startswith("/")
            and pattern.endswith("/")
            and re.fullmatch(pattern[1:-1], value)
        ):
            continue
        return False
    return True


def manifest_for(recipe: dict[str, Any], platform: dict[str, str]) -> dict[str, Any]:
    """The first manifest of ``recipe`` for ``platform``; raise :class:`RecipeError` when none is."""
    for manifest in recipe.get("Manifests", []):
        if matches(platform, manifest.get("Platform", {})):
            return dict(manifest)
    described = ", ".join(f"{k}={v}" for k, v in sorted(platform.items()))
    component = f"{recipe['ComponentName']} {recipe['ComponentVersion']}"
    raise RecipeError(f"{component} has no manifest for this device's platform ({described})")


def lifecycle(recipe: dict[str, Any], manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest's lifecycle, or the recipe's own."""
    found = manifest.get("Lifecycle", recipe.get("Lifecycle", {}))
    return dict(found) if isinstance(found, dict) else {}


def step(phases: dict[str, Any], name: str) -> Step | None:
    """The lifecycle step ``name`` (``Install``, ``Run``, ``Startup``), or None when there is none."""
    spec = phases.get(name)
    default_timeout = DEFAULT_INSTALL_TIMEOUT_SECONDS if name in ("Install", "Startup") else None
    if spec is None:
        return None
    if isinstance(spec, str):
        return Step(spec, timeout=default_timeout)
    if not isinstance(spec, dict) or not isinstance(spec.get("Script"), str):
        raise RecipeError(f"the {name} step must be a script or an object with a Script")
    setenv = {str(k): str(v) for k, v in (spec.get("Setenv") or {}).items()}
    timeout = spec.get("Timeout", default_timeout)
    return Step(spec["Script"], setenv, None if timeout is None else float(timeout))


def configuration(recipe: dict[str, Any], update: dict[str, Any] | None) -> dict[str, Any]:
    """The component's configuration: the recipe's defaults, with the deployment's ``merge`` over them."""
    default = (recipe.get("ComponentConfiguration") or {}).get("DefaultConfiguration") or {}
    merge = (update or {}).get("merge")
    return _merged(default, json.loads(merge) if merge else {})


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        below = merged.get(key)
        merged[key] = _merged(below, value) if isinstance(below, dict) and isinstance(value, dict) else value
    return merged


def substitute(text: str, paths: Paths, config: dict[str, Any], thing_name: str) -> str:
    """``text`` with the recipe variables the nucleus replaces (unknown ones are left as they are)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("configuration:"):
            found = _pointer(config, name.removeprefix("configuration:"))
            return found if isinstance(found, str) else ("" if found is None else json.dumps(found))
        known = {
            "artifacts:path": str(paths.artifacts),
            "artifacts:decompressedPath": str(paths.decompressed),
            "work:path": str(paths.work),
            "iot:thingName": thing_name,
        }
        return known[name]

    return _VARIABLE.sub(value, text)


def _pointer(document: Any, pointer: str) -> Any:
    """The value at a JSON pointer (``/Model/Threshold``), or None."""
    for part in filter(None, pointer.split("/")):
        if not isinstance(document, dict):
            return None
        document = document.get(part.replace("~1", "/").replace("~0", "~"))
    return document
