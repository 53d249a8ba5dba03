"""The package `sam build` makes is what runs: each handler cold-starts from it alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from localcloud.template import load_sam_template
from tests.build.conftest import REGION, BuiltFunction
from tests.conftest import FUNCTION_FOLDERS, ROOT, TEMPLATE

HANDLER_FOLDERS = [folder.name for folder in FUNCTION_FOLDERS]
FUNCTION_OF_FOLDER = {
    Path(resource["Properties"]["CodeUri"]).name: logical_id
    for logical_id, resource in load_sam_template(TEMPLATE)["Resources"].items()
    if resource["Type"] == "AWS::Serverless::Function"
}
# Run under `python -I -S`: no site-packages, no PYTHON* variables, so sys.path holds only what is given.
IMPORT_HANDLER = """
import importlib, sys
handler, *path = sys.argv[1:]
sys.path[:0] = path
module, _, attribute = handler.rpartition(".")
if not callable(getattr(importlib.import_module(module), attribute)):
    raise SystemExit(f"{handler} is not callable")
"""


def cold_start(function: BuiltFunction, runtime: Path) -> subprocess.CompletedProcess[str]:
    """Import ``function``'s handler as Lambda does: task root, then layers, then the runtime's own packages."""
    path = [str(function.code)]
    for layer in function.layers:
        path += [str(layer / "python" / "lib" / "python3.13" / "site-packages"), str(layer / "python")]
    path.append(str(runtime))
    environment = {
        **function.environment,
        # Set by Lambda in every function; LAMBDA_TASK_ROOT also switches Powertools' Tracer on.
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "LAMBDA_TASK_ROOT": str(function.code),
        "_HANDLER": function.handler,
    }
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", IMPORT_HANDLER, function.handler, *path],
        cwd=function.code,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("folder", HANDLER_FOLDERS)
def test_each_handler_imports_from_the_built_package_alone(
    folder: str, host_build: dict[str, BuiltFunction], lambda_runtime: Path
) -> None:
    # Given the function as sam build packaged it, its layer, and the runtime's boto3, nothing else
    assert folder in FUNCTION_OF_FOLDER, f"functions/*/{folder}/ is the CodeUri of no function in template.yaml"
    function = host_build[FUNCTION_OF_FOLDER[folder]]
    # When Lambda's cold start imports its handler with the template's environment
    result = cold_start(function, lambda_runtime)
    # Then the handler loads: its imports resolve and its settings validate
    assert result.returncode == 0, f"{function.name}'s {function.handler} fails to import:\n{result.stderr}"


def test_the_built_layer_holds_every_file_of_the_shared_package(host_build: dict[str, BuiltFunction]) -> None:
    # Given the shared package's source, data files included
    source = ROOT / "layers" / "shared" / "conveyor"
    expected = {
        file.relative_to(source) for file in source.rglob("*") if file.is_file() and "__pycache__" not in file.parts
    }
    # When sam build packages the layer
    (layer,) = {layer for function in host_build.values() for layer in function.layers}
    built = layer / "python" / "conveyor"
    # Then the layer carries every one of its files where Lambda puts the layer on sys.path
    assert expected <= {file.relative_to(built) for file in built.rglob("*") if file.is_file()}


# Lambda's quota on a function's deployment package and layers, unzipped: 250 MB (262,144,000 bytes).
UNZIPPED_LIMIT = 250 * 1024 * 1024


def unzipped_bytes(folder: Path) -> int:
    return sum(file.stat().st_size for file in folder.rglob("*") if file.is_file() and not file.is_symlink())


@pytest.mark.parametrize("folder", HANDLER_FOLDERS)
def test_each_package_with_its_layers_fits_lambdas_unzipped_limit(
    folder: str, host_build: dict[str, BuiltFunction]
) -> None:
    # Given the function as sam build packaged it, with its layers
    function = host_build[FUNCTION_OF_FOLDER[folder]]
    # When its files are counted as Lambda unzips them
    size = unzipped_bytes(function.code) + sum(unzipped_bytes(layer) for layer in function.layers)
    # Then they fit Lambda's limit (arm64's wheels are a few MB larger than this host's: README, "The gate")
    assert size < UNZIPPED_LIMIT - 16 * 1024 * 1024, f"{function.name} unzips to {size / 1e6:.0f} MB"
