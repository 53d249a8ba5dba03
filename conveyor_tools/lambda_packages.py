"""Folders of packages as Lambda puts them on sys.path, made of links into this environment's installs.

A function in Lambda sees its own code, its layers and the runtime's boto3, nothing else. Tests
and benchmarks that load handlers in a clean interpreter use these folders so that what the
function imports, and what it may not, is the same as in Lambda.
"""

from __future__ import annotations

from importlib.metadata import Distribution, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def with_requirements(requirement: str) -> list[Distribution]:
    """The installed distributions ``requirement`` (a requirement line, extras included) needs, itself first."""
    found: dict[str, Distribution] = {}
    pending = [Requirement(requirement)]
    while pending:
        wanted = pending.pop()
        installed = distribution(wanted.name)
        key = canonicalize_name(installed.metadata["Name"])
        if key in found:
            continue
        found[key] = installed
        extras = {"", *wanted.extras}
        for line in installed.requires or []:
            needed = Requirement(line)
            if needed.marker is None or any(needed.marker.evaluate({"extra": extra}) for extra in extras):
                pending.append(needed)
    return list(found.values())


def link_packages(folder: Path, requirements: list[str]) -> Path:
    """``folder`` holding the top-level packages of ``requirements`` and what they need, as links."""
    folder.mkdir(parents=True, exist_ok=True)
    for requirement in requirements:
        for installed in with_requirements(requirement):
            tops = {file.parts[0] for file in installed.files or []}
            for top in sorted(tops - {"..", "__pycache__"}):
                link = folder / top
                if not top.endswith(".dist-info") and not link.exists():
                    link.symlink_to(Path(str(installed.locate_file(top))))
    return folder


def layer_requirements(requirements_txt: Path) -> list[str]:
    """The requirement lines of a layer's requirements.txt."""
    lines = requirements_txt.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
