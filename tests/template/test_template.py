"""Structural rules every version of template.yaml keeps (least privilege, encryption, logging)."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from typing import Any

from tests.conftest import FUNCTION_FOLDERS, FUNCTIONS, ROOT

# Actions with no resource-level permissions (X-Ray; CloudWatch Logs' vended log delivery, which
# Step Functions logging needs): the only ones allowed on "*".
UNSCOPED_ACTIONS = {
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
    # PutMetricData has no resource-level permissions; it is held to a namespace by condition.
    "cloudwatch:PutMetricData",
    # EC2 describe actions SageMaker needs to place training jobs in a VPC.
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
    # The canary controller reads its alarms' states and answers the bake's task token, which
    # name no resource the policy could scope (localcloud/iam/actions.py UNSCOPED holds the same).
    "cloudwatch:DescribeAlarms",
    "states:SendTaskFailure",
    "states:SendTaskHeartbeat",
    # Application Auto Scaling's describe actions support no resource-level permissions.
    "application-autoscaling:DescribeScalableTargets",
    # Greengrass v2's CreateDeployment and ListDeployments support no resource-level permissions
    # (the Service Authorization Reference lists no resource type for them).
    "greengrass:CreateDeployment",
    "greengrass:ListDeployments",
}
POLICY_KEYS = {"PolicyDocument", "KeyPolicy", "AssumeRolePolicyDocument"}


def unconditional(statement: Any) -> list[dict[str, Any]]:
    """A statement, or both branches of a statement chosen by ``Fn::If``."""
    if isinstance(statement, dict) and "Fn::If" in statement:
        return [branch for branch in statement["Fn::If"][1:] if isinstance(branch, dict) and "Effect" in branch]
    return [statement]


def statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every policy statement anywhere below ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in POLICY_KEYS and isinstance(value, dict):
                for statement in value.get("Statement", []):
                    yield from unconditional(statement)
            else:
                yield from statements(value)
    elif isinstance(node, list):
        for item in node:
            yield from statements(item)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def test_no_allow_statement_grants_a_wildcard_action(translated: dict[str, Any]) -> None:
    # Deny statements (TLS-only bucket policies) may name s3:*: they only take permissions away.
    wildcards = [
        action
        for statement in statements(translated)
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
        if action == "*" or action.endswith(":*")
    ]
    assert wildcards == []


def test_role_policies_scope_resources_except_where_aws_allows_no_scope(translated: dict[str, Any]) -> None:
    unscoped = [
        (logical_id, action)
        for logical_id, role in resources(translated, "AWS::IAM::Role").items()
        for policy in role["Properties"].get("Policies", [])
        for listed in policy["PolicyDocument"]["Statement"]
        for statement in unconditional(listed)
        if statement["Effect"] == "Allow" and "*" in as_list(statement["Resource"])
        for action in as_list(statement["Action"])
        if action not in UNSCOPED_ACTIONS
    ]
    assert unscoped == []


def test_roles_carry_no_managed_policies(translated: dict[str, Any]) -> None:
    # AWS managed policies (AWSLambdaBasicExecutionRole...) grant on "*"; roles list their own statements.
    assert {
        logical_id: role["Properties"]["ManagedPolicyArns"]
        for logical_id, role in resources(translated, "AWS::IAM::Role").items()
        if role["Properties"].get("ManagedPolicyArns")
    } == {}


def test_each_function_has_its_own_role(translated: dict[str, Any]) -> None:
    roles = [str(f["Properties"]["Role"]) for f in resources(translated, "AWS::Lambda::Function").values()]
    assert len(roles) == len(set(roles))


def test_each_function_logs_to_its_own_encrypted_log_group_with_retention(sam: dict[str, Any]) -> None:
    log_groups = resources(sam, "AWS::Logs::LogGroup")
    for logical_id, function in resources(sam, "AWS::Serverless::Function").items():
        log_group_ref = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        properties = log_groups[log_group_ref]["Properties"]
        assert "RetentionInDays" in properties, logical_id
        assert properties["KmsKeyId"] == {"Fn::GetAtt": ["Key", "Arn"]}, logical_id


def test_every_bucket_blocks_public_access_and_versions(sam: dict[str, Any]) -> None:
    for logical_id, bucket in resources(sam, "AWS::S3::Bucket").items():
        properties = bucket["Properties"]
        assert all(properties["PublicAccessBlockConfiguration"].values()), logical_id
        assert properties["VersioningConfiguration"]["Status"] == "Enabled", logical_id


def test_every_data_holding_bucket_uses_the_stack_key_and_has_a_tls_only_policy(sam: dict[str, Any]) -> None:
    policies = {
        p["Properties"]["Bucket"]["Ref"]: p["Properties"]["PolicyDocument"]
        for p in resources(sam, "AWS::S3::BucketPolicy").values()
    }
    for logical_id, bucket in resources(sam, "AWS::S3::Bucket").items():
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in policies[logical_id]["Statement"]
        ), logical_id
        if logical_id == "LogBucket":  # S3 access-log delivery accepts only SSE-S3 targets
            continue
        default = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert default["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {"Fn::GetAtt": ["Key", "Arn"]}


def test_every_parameter_is_described_and_validated(sam: dict[str, Any]) -> None:
    validations = {"AllowedValues", "AllowedPattern", "MinValue", "MaxValue"}
    for name, parameter in sam["Parameters"].items():
        assert parameter.get("Description"), name
        assert validations & set(parameter), name


def test_the_template_version_matches_the_package_version(sam: dict[str, Any]) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert sam["Mappings"]["Release"]["Conveyor"]["Version"] == pyproject["project"]["version"]


def test_function_folders_have_a_handler_a_sample_event_and_unique_module_names(sam: dict[str, Any]) -> None:
    # In the local cloud every function runs in one process, so module names must not collide.
    seen: dict[str, str] = {}
    code_uris = {f["Properties"]["CodeUri"].rstrip("/") for f in resources(sam, "AWS::Serverless::Function").values()}
    folders = {folder.relative_to(FUNCTIONS) for folder in FUNCTIONS.glob("*/*") if folder.name != "__pycache__"}
    assert folders == {folder.relative_to(FUNCTIONS) for folder in FUNCTION_FOLDERS}, "a function folder has no app.py"
    for folder in FUNCTION_FOLDERS:
        name = folder.relative_to(FUNCTIONS)
        assert f"functions/{name}" in code_uris, f"{folder} is not deployed by template.yaml"
        assert re.search(r"^def handler\(", (folder / "app.py").read_text(), re.MULTILINE), folder
        assert (ROOT / "events" / f"{name}.json").is_file(), f"no sample event events/{name}.json"
        for module in folder.glob("*.py"):
            if module.name == "app.py":
                continue
            assert module.stem not in seen, f"{module} and {seen[module.stem]} share a module name"
            seen[module.stem] = str(module)


def test_function_folders_are_named_after_their_functions(sam: dict[str, Any]) -> None:
    # functions/<flow>/<function>/: the leaf is the logical id in snake case, without "Function".
    for logical_id, function in resources(sam, "AWS::Serverless::Function").items():
        leaf = re.sub(r"(?<!^)(?=[A-Z])", "_", logical_id.removesuffix("Function")).lower()
        assert function["Properties"]["CodeUri"].rstrip("/").endswith(f"/{leaf}"), logical_id


def test_state_machines_come_from_files_with_substitutions(sam: dict[str, Any]) -> None:
    for logical_id, machine in resources(sam, "AWS::Serverless::StateMachine").items():
        properties = machine["Properties"]
        assert "Definition" not in properties, f"{logical_id}: no inline definitions"
        assert properties["DefinitionUri"].startswith("statemachines/"), logical_id


PSEUDO_PARAMETERS = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
# What an operator reads on the dashboard for each flow: (namespace, metric name) pairs it must plot.
DASHBOARD_FLOWS = {
    "stream records and failures": {
        ("AWS/Firehose", "IncomingRecords"),
        ("AWS/Firehose", "DeliveryToS3.Records"),
        ("AWS/Firehose", "DeliveryToS3.Success"),
        ("Conveyor", "RecordsOk"),
        ("Conveyor", "RecordsProcessingFailed"),
    },
    "uploads": {("Conveyor", "RowsAccepted"), ("Conveyor", "RowsSetAside")},
    "drift": {("Conveyor", "FeaturePSI")},
    "gate decisions": {("Conveyor", "ModelsApproved"), ("Conveyor", "ModelsRejected"), ("Conveyor", "ReleasesStarted")},
    "canary traffic per variant, and its alarms": {
        ("AWS/SageMaker", "Invocations"),
        ("AWS/SageMaker", "Invocation5XXErrors"),
        ("AWS/SageMaker", "ModelLatency"),
        ("Conveyor", "CanaryAlarms"),
        ("Conveyor", "CanariesRolledBack"),
    },
    "edge rollout counts": {
        ("Conveyor", "EdgeComponentsPublished"),
        ("Conveyor", "EdgeRolloutsFinished"),
        ("Conveyor", "EdgeDevicesSucceeded"),
        ("Conveyor", "EdgeDevicesFailed"),
    },
    "security findings": {("Conveyor", "SecurityFindings"), ("Conveyor", "SettingsRestored")},
}
RUN_OUTCOMES = ("ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsAborted", "ExecutionsTimedOut")


def dashboard_widgets(sam: dict[str, Any], **values: str) -> list[dict[str, Any]]:
    """The dashboard's widgets, its body substituted as CloudFormation does: each parameter at its
    default (or ``values``), each name of the Sub's map as the logical id it refers to."""
    template, names = sam["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    parameters = {name: str(parameter.get("Default", "")) for name, parameter in sam["Parameters"].items()}
    referred = {name: str(value.get("Ref") or ".".join(value["Fn::GetAtt"])) for name, value in names.items()}
    known = PSEUDO_PARAMETERS | parameters | referred | values
    used = set(re.findall(r"\$\{([^}]+)\}", template))
    assert used <= known.keys(), f"not a parameter, pseudo-parameter or name of the Sub's map: {used - known.keys()}"
    return list(json.loads(re.sub(r"\$\{([^}]+)\}", lambda match: known[match.group(1)], template))["widgets"])


def plotted(widget: dict[str, Any]) -> Iterator[tuple[str, ...]]:
    """Each metric a widget draws as (namespace, name, dimension, value...), the "." shorthand
    resolved; a SEARCH as (namespace, name)."""
    previous: list[str] = []
    for line in widget["properties"]["metrics"]:
        fields = [field for field in line if isinstance(field, str)]
        if fields:
            previous = [previous[i] if field == "." else field for i, field in enumerate(fields)]
            yield tuple(previous)
        for option in line:
            if isinstance(option, dict) and "expression" in option:
                yield from re.findall(r"\{([^,}]+)[^}]*\} MetricName=\"([^\"]+)\"", option["expression"])


def test_the_dashboard_is_valid_json_and_shows_each_features_drift_against_the_threshold(sam: dict[str, Any]) -> None:
    # Given the dashboard's body with every ${...} substituted, as CloudFormation does
    widgets = dashboard_widgets(sam, DriftThreshold="0.2")
    # Then it parses, and one widget searches every feature's PSI from ingestion, with the threshold drawn
    [drift] = [w["properties"] for w in widgets if "FeaturePSI" in json.dumps(w)]
    [[search]] = drift["metrics"]
    assert search["expression"].startswith('SEARCH(\'{Conveyor,Feature,service} MetricName="FeaturePSI"')
    assert drift["annotations"]["horizontal"] == [{"label": "DriftThreshold", "value": 0.2}]


def test_the_dashboard_shows_every_flow(sam: dict[str, Any]) -> None:
    # Given every metric the dashboard's widgets draw
    drawn = {metric for widget in dashboard_widgets(sam) for metric in plotted(widget)}
    # Then each flow has its metrics on it
    shown = {metric[:2] for metric in drawn}
    missing = {flow: metrics - shown for flow, metrics in DASHBOARD_FLOWS.items() if metrics - shown}
    assert not missing
    # And each of the three workflows' runs, with every way a run ends
    for machine in resources(sam, "AWS::Serverless::StateMachine"):
        for outcome in RUN_OUTCOMES:
            assert ("AWS/States", outcome, "StateMachineArn", machine) in drawn, (machine, outcome)


def test_each_conveyor_metric_on_the_dashboard_is_one_its_function_emits(sam: dict[str, Any]) -> None:
    # Given each function's app.py, by the service name Powertools gives its metrics
    apps = {
        function["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]: (
            ROOT / function["Properties"]["CodeUri"] / "app.py"
        ).read_text()
        for function in resources(sam, "AWS::Serverless::Function").values()
    }
    # Then each Conveyor metric the dashboard draws by service is added there, by name or f-string prefix
    for widget in dashboard_widgets(sam):
        for namespace, name, *dimensions in plotted(widget):
            if namespace != "Conveyor" or not dimensions:
                continue
            code = apps[dict(zip(dimensions[::2], dimensions[1::2], strict=True))["service"]]
            literal = re.findall(r'name="(\w+)"', code)
            prefixes = re.findall(r'name=f"(\w+)\{', code)
            assert name in literal or any(name.startswith(prefix) for prefix in prefixes), name


def test_the_dashboard_widgets_fit_the_grid_without_overlapping(sam: dict[str, Any]) -> None:
    cells: dict[tuple[int, int], str] = {}
    for widget in dashboard_widgets(sam):
        title = widget["properties"]["title"]
        assert widget["x"] + widget["width"] <= 24, title
        for x in range(widget["x"], widget["x"] + widget["width"]):
            for y in range(widget["y"], widget["y"] + widget["height"]):
                assert (x, y) not in cells, f"{title} overlaps {cells[(x, y)]}"
                cells[(x, y)] = title


def test_drift_threshold_takes_a_positive_json_number_only(sam: dict[str, Any]) -> None:
    # The dashboard draws it as a JSON number, and ingestion refuses a threshold of 0
    pattern = re.compile(sam["Parameters"]["DriftThreshold"]["AllowedPattern"])
    assert [value for value in ("0.2", "1", "1.5", "0.05", "12") if not pattern.fullmatch(value)] == []
    assert [value for value in ("0", "0.0", "00.5", ".5", "-1", "1e3", "") if pattern.fullmatch(value)] == []
