"""Turn template.yaml into the plain CloudFormation the local cloud deploys.

The same steps ``sam deploy`` takes, done offline: local code paths become S3 locations,
state machine files are read, samtranslator expands the ``AWS::Serverless::*`` types, and
``DefinitionSubstitutions`` are applied (moto ignores them).
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

CODE_BUCKET = "localcloud-code"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:]+)\}")


class TemplateError(Exception):
    """template.yaml cannot be turned into a deployable local template."""


@dataclass
class LocalTemplate:
    """A translated template and where each code location in it comes from."""

    body: dict[str, Any]
    code: dict[str, Path] = field(default_factory=dict)
    """S3 key in :data:`CODE_BUCKET` -> source folder (a function's CodeUri or a layer's ContentUri)."""


def load_sam_template(path: Path) -> dict[str, Any]:
    """Parse a SAM template, short-form intrinsics (``!Ref``) included; the caller's own copy."""
    return copy.deepcopy(_parse_sam_text(path.read_text(encoding="utf-8")))


@functools.cache
def _parse_sam_text(text: str) -> dict[str, Any]:
    # Parsed once per text: PyYAML's pure-Python parse of template.yaml took a fifth of each deploy.
    parsed: dict[str, Any] = yaml_parse(text)
    return parsed


def translate(path: Path, parameters: dict[str, str] | None = None) -> LocalTemplate:
    """Translate the SAM template at ``path`` into CloudFormation, offline."""
    root = path.parent
    sam = load_sam_template(path)
    code: dict[str, Path] = {}
    for logical_id, resource in sam.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        match resource["Type"]:
            case "AWS::Serverless::Function":
                properties["CodeUri"] = _stage_code(root, properties, "CodeUri", logical_id, code)
            case "AWS::Serverless::LayerVersion":
                properties["ContentUri"] = _stage_code(root, properties, "ContentUri", logical_id, code)
            case "AWS::Serverless::StateMachine" if "DefinitionUri" in properties:
                definition_path = root / properties.pop("DefinitionUri")
                properties["Definition"] = json.loads(definition_path.read_text(encoding="utf-8"))
    # The translator asks boto3 for the partition; pin it so no AWS configuration is needed.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    translator = Translator(None, Parser())
    try:
        body: dict[str, Any] = translator.translate(
            sam,
            parameter_values=dict(parameters or {}),
            get_managed_policy_map=dict,
            passthrough_metadata=True,
        )
    except Exception as error:
        raise TemplateError(f"{path}: SAM translation failed: {error}") from error
    for resource in body["Resources"].values():
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            _apply_definition_substitutions(resource["Properties"])
    return LocalTemplate(body=body, code=code)


def _stage_code(root: Path, properties: dict[str, Any], key: str, logical_id: str, code: dict[str, Path]) -> str:
    uri = properties.get(key)
    if not isinstance(uri, str) or uri.startswith("s3://"):
        raise TemplateError(f"{logical_id}.{key}: expected a local folder, got {uri!r}")
    source = (root / uri).resolve()
    if not source.is_dir():
        raise TemplateError(f"{logical_id}.{key}: folder {source} does not exist")
    inside = source.is_relative_to(root.resolve())
    s3_key = f"{source.relative_to(root.resolve()).as_posix() if inside else logical_id}.zip"
    code[s3_key] = source
    return f"s3://{CODE_BUCKET}/{s3_key}"


def _apply_definition_substitutions(properties: dict[str, Any]) -> None:
    """Replace ``${Name}`` placeholders with their substitutions, as Step Functions does.

    The result is an ``Fn::Join`` so that substitutions holding intrinsics (``!GetAtt``) still
    resolve when the stack is created, and ``$$.Execution`` paths in the ASL stay untouched.
    """
    substitutions = properties.pop("DefinitionSubstitutions", None)
    if not substitutions:
        return
    definition = properties["DefinitionString"]
    if isinstance(definition, dict) and "Fn::Join" in definition:
        separator, lines = definition["Fn::Join"]
        definition = separator.join(lines)
    if not isinstance(definition, str):
        raise TemplateError(f"unexpected DefinitionString shape: {definition!r}")
    parts: list[Any] = []
    position = 0
    for match in _PLACEHOLDER.finditer(definition):
        name = match.group(1)
        if name not in substitutions:
            raise TemplateError(f"state machine definition uses ${{{name}}}, which has no substitution")
        parts += [definition[position : match.start()], substitutions[name]]
        position = match.end()
    parts.append(definition[position:])
    properties["DefinitionString"] = {"Fn::Join": ["", parts]}
