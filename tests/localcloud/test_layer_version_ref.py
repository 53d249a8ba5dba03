"""``!Ref`` of a layer version is its ARN, in outputs and in the functions that use it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from localcloud import LocalCloud
from localcloud.adapters import ALL, Adapter
from localcloud.adapters.layer_version_ref import layer_version_ref
from localcloud.template import CODE_BUCKET, LocalTemplate

pytestmark = pytest.mark.localcloud

LAYER_KEY = "layer.zip"
LAYER = {
    "Type": "AWS::Lambda::LayerVersion",
    "Properties": {"Content": {"S3Bucket": CODE_BUCKET, "S3Key": LAYER_KEY}, "CompatibleRuntimes": ["python3.13"]},
}
ROLE = {
    "Type": "AWS::IAM::Role",
    "Properties": {
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    },
}
FUNCTION = {
    "Type": "AWS::Lambda::Function",
    "Properties": {
        "FunctionName": "uses-the-layer",
        "Runtime": "python3.13",
        "Handler": "index.handler",
        "Role": {"Fn::GetAtt": ["Role", "Arn"]},
        "Code": {"ZipFile": "def handler(event, context):\n    return event\n"},
        "Layers": [{"Ref": "Layer"}],
    },
}
OUTPUTS = {"LayerArn": {"Value": {"Ref": "Layer"}}}


@contextmanager
def deployed(resources: dict[str, Any], layer_source: Path, adapters: Sequence[Adapter] = ALL) -> Iterator[LocalCloud]:
    """A stack of ``resources`` whose layer's content is ``layer_source``, output ``LayerArn``."""
    template = LocalTemplate(body={"Resources": resources, "Outputs": OUTPUTS}, code={LAYER_KEY: layer_source})
    with LocalCloud(template, stack_name="layer", adapters=adapters) as cloud:
        yield cloud


@pytest.fixture
def layer_source(tmp_path: Path) -> Path:
    (tmp_path / "python").mkdir()
    (tmp_path / "python" / "shared.py").write_text("GREETING = 'hello'\n", encoding="utf-8")
    return tmp_path


def published_layer_arn(cloud: LocalCloud) -> str:
    [layer] = cloud.client("lambda").list_layers()["Layers"]
    arn: str = layer["LatestMatchingVersion"]["LayerVersionArn"]
    return arn


def test_gap_moto_resolves_the_ref_to_a_python_repr(layer_source: Path) -> None:
    without = [a for a in ALL if a is not layer_version_ref]
    with deployed({"Layer": LAYER}, layer_source, adapters=without) as cloud:
        assert cloud.outputs["LayerArn"].startswith("<moto.awslambda.models.LayerVersion object at ")


def test_fix_the_ref_is_the_layer_version_arn(layer_source: Path) -> None:
    with deployed({"Layer": LAYER}, layer_source) as cloud:
        assert cloud.outputs["LayerArn"] == published_layer_arn(cloud)
        assert cloud.outputs["LayerArn"].startswith(f"arn:aws:lambda:{cloud.region}:{cloud.account_id}:layer:")


def test_fix_a_function_that_refs_the_layer_gets_that_layer(layer_source: Path) -> None:
    # Given a function whose Layers holds a Ref of the stack's layer version
    with deployed({"Layer": LAYER, "Role": ROLE, "Function": FUNCTION}, layer_source) as cloud:
        # Then the deployed function carries the layer's ARN
        configuration = cloud.client("lambda").get_function_configuration(FunctionName="uses-the-layer")
        assert [layer["Arn"] for layer in configuration["Layers"]] == [published_layer_arn(cloud)]
