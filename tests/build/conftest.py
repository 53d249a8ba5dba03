"""The functions as `sam build` packages them, built once per session for this machine.

Lambda runs the arm64 build, whose binary wheels cannot load on an x86_64 host, so the same
template is built here for the host's architecture; test_wheels.py checks that arm64 has a wheel
for every requirement of the layer.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conveyor_tools.lambda_packages import link_packages
from localcloud.template import load_sam_template, translate
from tests.conftest import ROOT, TEMPLATE

SAM = ROOT / ".tools" / "sam" / "bin" / "sam"
LAMBDA_ARCHITECTURES = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
LOCAL_PATHS = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
}
REGION = "us-east-1"
PSEUDO_PARAMETERS = {
    "AWS::Region": REGION,
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "conveyor-dev",
    "AWS::URLSuffix": "amazonaws.com",
}
_SUB_PLACEHOLDER = re.compile(r"\$\{([^!}][^}]*)\}")


@dataclass(frozen=True)
class BuiltFunction:
    """One built function as Lambda loads it: its code folder, its layers' folders, handler and environment."""

    name: str
    code: Path
    layers: list[Path]
    handler: str
    environment: dict[str, str]


def for_host(sam: dict[str, Any], architecture: str) -> dict[str, Any]:
    """A SAM template that builds from anywhere for ``architecture``: local paths absolute, architectures replaced."""
    sam.setdefault("Globals", {}).setdefault("Function", {})["Architectures"] = [architecture]
    for resource in sam["Resources"].values():
        properties = resource.get("Properties", {})
        path_key = LOCAL_PATHS.get(resource["Type"], "")
        if isinstance(properties.get(path_key), str):
            properties[path_key] = str(ROOT / properties[path_key])
        for key in ("Architectures", "CompatibleArchitectures"):
            if key in properties:
                properties[key] = [architecture]
        if "BuildArchitecture" in resource.get("Metadata", {}):
            resource["Metadata"]["BuildArchitecture"] = architecture
    return sam


def stand_in(value: Any, template: dict[str, Any]) -> str:
    """``value`` as a stack deployed with default parameters sets it; a resource stands in as its logical id."""
    match value:
        case str():
            return value
        case int() | float():
            return str(value).lower()  # a YAML true is "true" to CloudFormation
        case {"Ref": str(name)}:
            return reference(name, template)
        case {"Fn::GetAtt": [str(name), "Arn"]} if template["Resources"].get(name, {}).get("Type") == "AWS::KMS::Key":
            return f"arn:aws:kms:{REGION}:{PSEUDO_PARAMETERS['AWS::AccountId']}:key/00000000-0000-4000-8000-000000000000"
        case {"Fn::GetAtt": [str(name), str(attribute)]}:
            return f"{name}.{attribute}"
        case {"Fn::FindInMap": [str(mapping), str(key), str(attribute)]}:
            return stand_in(template["Mappings"][mapping][key][attribute], template)
        case {"Fn::Sub": str(text)}:
            return _SUB_PLACEHOLDER.sub(lambda match: reference(match.group(1), template), text)
        case {"Fn::If": [str(condition), when_true, when_false]}:
            return stand_in(when_true if holds(template["Conditions"][condition], template) else when_false, template)
        case {"Fn::Join": [str(separator), list(parts)]}:
            values = (stand_in(part, template) for part in parts)
            return separator.join(value for value in values if value != NO_VALUE)
    raise ValueError(f"no stand-in for {value!r}: teach tests/build/conftest.py's stand_in this intrinsic")


# What an Fn::If branch of AWS::NoValue stands in as: left out of the list that holds it.
NO_VALUE = "AWS::NoValue"


def holds(condition: Any, template: dict[str, Any]) -> bool:
    """Whether a template condition holds for a stack deployed with default parameters."""
    match condition:
        case {"Fn::Equals": [left, right]}:
            return stand_in(left, template) == stand_in(right, template)
        case {"Fn::Not": [inner]}:
            return not holds(inner, template)
        case {"Fn::And": list(inner)}:
            return all(holds(part, template) for part in inner)
        case {"Fn::Or": list(inner)}:
            return any(holds(part, template) for part in inner)
        case {"Condition": str(name)}:
            return holds(template["Conditions"][name], template)
    raise ValueError(f"no evaluation of condition {condition!r}: teach tests/build/conftest.py's holds this function")


def reference(name: str, template: dict[str, Any]) -> str:
    """What ``Ref`` (or a ``${Name}`` in ``Fn::Sub``) gives for ``name``."""
    if name in PSEUDO_PARAMETERS:
        return PSEUDO_PARAMETERS[name]
    parameters: dict[str, Any] = template.get("Parameters", {})
    if name in parameters:
        return stand_in(parameters[name]["Default"], template)
    if template["Resources"].get(name, {}).get("Type") == "AWS::SNS::Topic":
        return f"arn:aws:sns:{REGION}:{PSEUDO_PARAMETERS['AWS::AccountId']}:{name}"
    return name


def built_functions(build: Path) -> dict[str, BuiltFunction]:
    """Every function of the template `sam build` wrote into ``build``, by logical id."""
    local = translate(build / "template.yaml")
    resources = local.body["Resources"]
    functions = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        properties = resource["Properties"]
        variables = properties.get("Environment", {}).get("Variables", {})
        environment = {name: stand_in(value, local.body) for name, value in variables.items()}
        # Lambda turns LoggingConfig into variables of its own, which Powertools' Logger reads.
        logging_config = properties.get("LoggingConfig", {})
        if "LogFormat" in logging_config:
            environment["AWS_LAMBDA_LOG_FORMAT"] = stand_in(logging_config["LogFormat"], local.body)
        if "ApplicationLogLevel" in logging_config:
            environment["AWS_LAMBDA_LOG_LEVEL"] = stand_in(logging_config["ApplicationLogLevel"], local.body)
        functions[logical_id] = BuiltFunction(
            name=logical_id,
            code=local.code[properties["Code"]["S3Key"]],
            layers=[
                local.code[resources[layer["Ref"]]["Properties"]["Content"]["S3Key"]]
                for layer in properties.get("Layers", [])
            ],
            handler=properties["Handler"],
            environment=environment,
        )
    return functions


@pytest.fixture(scope="session")
def host_build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BuiltFunction]:
    """template.yaml built by the pinned SAM CLI for this machine's architecture: its functions, by logical id."""
    if not SAM.is_file():
        pytest.skip(f"no SAM CLI at {SAM.relative_to(ROOT)}: `make install` installs it (`make test` does)")
    architecture = LAMBDA_ARCHITECTURES.get(platform.machine())
    if architecture is None:
        pytest.skip(f"Lambda runs no {platform.machine()} functions, so this machine cannot load a build")
    work = tmp_path_factory.mktemp("sam-build")
    template = work / "template.json"
    template.write_text(json.dumps(for_host(load_sam_template(TEMPLATE), architecture)), encoding="utf-8")
    build = work / "build"
    # sam build runs pip with the first python3.13 on PATH: this interpreter's base install, as in `make build`.
    path = f"{Path(sys.base_prefix, 'bin')}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
    result = subprocess.run(
        [str(SAM), "build", "--template-file", str(template), "--build-dir", str(build), "--parallel"],
        cwd=work,
        env={**os.environ, "PATH": path, "SAM_CLI_TELEMETRY": "0"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"sam build failed:\n{result.stdout}\n{result.stderr}")
    return built_functions(build)


@pytest.fixture(scope="session")
def lambda_runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding boto3 and what it needs, and nothing else."""
    # Lambda's Python runtime brings its own boto3, after the layers on sys.path; the pinned dev copy stands in for it.
    return link_packages(tmp_path_factory.mktemp("lambda-runtime"), ["boto3"])
