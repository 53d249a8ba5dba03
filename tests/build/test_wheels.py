"""Every package of the shared layer has a wheel for Lambda's Python 3.13 on arm64, so `sam build` needs no Docker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

from tests.conftest import ROOT

LAYER_REQUIREMENTS = ROOT / "layers" / "shared" / "requirements.txt"
# The platforms aws-lambda-builders (sam build) accepts for python3.13 on arm64: Amazon Linux 2023, glibc 2.34.
ARM64_PLATFORMS = [
    "manylinux2014_aarch64",
    "manylinux_2_17_aarch64",
    "manylinux_2_28_aarch64",
    "manylinux_2_34_aarch64",
]
LAMBDA_ARM64_TAGS = {
    *cpython_tags(python_version=(3, 13), abis=["cp313"], platforms=ARM64_PLATFORMS),
    *compatible_tags(python_version=(3, 13), interpreter="cp313", platforms=ARM64_PLATFORMS),
}


def required_names() -> set[str]:
    """The distributions requirements.txt names."""
    lines = LAYER_REQUIREMENTS.read_text(encoding="utf-8").splitlines()
    return {canonicalize_name(Requirement(line).name) for line in lines if line.strip() and not line.startswith("#")}


def test_every_layer_requirement_has_a_wheel_for_lambda_python313_on_arm64(tmp_path: Path) -> None:
    # Given the layer's requirements
    # When pip resolves them, dependencies included, to wheels only for Lambda's Python 3.13 on arm64
    platforms = [f"--platform={platform}" for platform in ARM64_PLATFORMS]
    wheels_only = ["--only-binary=:all:", "--implementation=cp", "--python-version=3.13", "--abi=cp313", *platforms]
    pip = [sys.executable, "-m", "pip", "--quiet", "--disable-pip-version-check"]
    result = subprocess.run(
        [*pip, "download", *wheels_only, "--dest", str(tmp_path), "--requirement", str(LAYER_REQUIREMENTS)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Then every package resolves to a wheel whose tags Lambda arm64 accepts
    assert result.returncode == 0, f"a layer requirement has no wheel for python3.13 on arm64:\n{result.stderr}"
    wheels = {wheel.name: parse_wheel_filename(wheel.name) for wheel in tmp_path.glob("*.whl")}
    assert required_names() <= {canonicalize_name(name) for name, *_ in wheels.values()}
    assert [wheel for wheel, (*_, tags) in wheels.items() if not tags & LAMBDA_ARM64_TAGS] == []
