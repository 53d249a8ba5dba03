"""``conveyor``: operate a Conveyor stack deployed on AWS.

    conveyor status [--limit N] [--json]             what the stack is doing: runs, champion, canary, edge, freeze
    conveyor approve PACKAGE --reason "why"          release a package waiting for approval
    conveyor reject PACKAGE --reason "why"           reject a package waiting for approval, or one released
    conveyor freeze --reason "why"                   freeze releases by hand, recording who and why
    conveyor unfreeze --finding ID --reason "why"    acknowledge a security finding (the last one lifts the freeze)
    conveyor unfreeze --reason "why"                 lift a freeze set by hand, if no finding holds it
    conveyor teardown [--yes]                        before `sam delete`: empty what it must delete, name what it keeps
    conveyor demo [--dataset DATA.csv --schema SCHEMA.json]
                                                     the whole loop on a local cloud, on generated data or your own
    conveyor schema diff OLD NEW                     what deploying schema NEW over OLD does to the data
    conveyor schema infer DATA.csv --label COLUMN [--name NAME] [--margin FRACTION] [--output PATH] [--force]
                                                     write a feature schema for your own data, saying what it inferred
    conveyor local up [--port 4566] [--parameter KEY=VALUE ...] [--demo]
                                                     deploy template.yaml into a local cloud and serve it over HTTP

PACKAGE is a model package ARN or a version number of the stack's model package group. The stack
is found by name (``--stack-name``, or ``--stack``; default conveyor-dev, as in samconfig.toml),
with the usual AWS credentials and region; ``--endpoint-url`` sends every AWS call to that
endpoint instead (a local cloud served over HTTP). The ``schema`` commands need no stack. For
``schema diff``, OLD and NEW are schema names (layers/shared/conveyor/schemas/<name>.json) or
paths to schema files. ``schema infer`` writes the schema to PATH (default <name>.json here; an
existing file only with --force) and its summary (types, observed ranges and bounds, columns kept
as metadata, rows an upload would set aside) to standard output; errors go to standard error.
``teardown`` prints its plan (each bucket emptied or kept, with what it holds; every resource the
stack retains; the endpoint outside it), then asks for the stack's name before it empties anything
(``--yes`` does not ask; without a terminal and without ``--yes`` it refuses). It deletes no stack
and no retained resource: ``sam delete --stack-name NAME`` deletes the stack after it.
``local up`` deploys ``--template`` (default template.yaml) as the stack NAME into a local cloud in
this process and serves it at http://HOST:PORT (``--host`` 127.0.0.1, ``--port`` 4566; 0 picks a
free one) until Ctrl-C; it prints the outputs and the credentials clients must use. ``--demo``
runs the demo's story in it first (with the demo's parameters; ``--parameter`` overrides them).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from conveyor_tools import freezing, schema_diff, schema_infer, teardown
from conveyor_tools.approval import ApprovalError, decide
from conveyor_tools.stack import Stack
from conveyor_tools.status import DEFAULT_LIMIT, read_status
from conveyor_tools.status_text import render


class DeployedStack:
    """A stack deployed with ``sam deploy``: its outputs and clients of one boto3 session.

    ``endpoint_url`` goes to every client, CloudFormation's included, so one option points the
    whole command at another endpoint.
    """

    def __init__(self, name: str, session: Any, endpoint_url: str | None = None) -> None:
        self._session = session
        self._endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}
        described = self.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
        self.outputs: Mapping[str, str] = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self._endpoint_url)
        return self._clients[service]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="conveyor", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _stack_options(parser, {"stack_name": "conveyor-dev", "region": None, "endpoint_url": None})
    # The same options after the command too (`conveyor status --endpoint-url URL`), where given there.
    stack = argparse.ArgumentParser(add_help=False)
    _stack_options(stack, dict.fromkeys(("stack_name", "region", "endpoint_url"), argparse.SUPPRESS))
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, **options: Any) -> argparse.ArgumentParser:
        made: argparse.ArgumentParser = commands.add_parser(name, parents=[stack], **options)
        return made

    status = command("status", help="what the stack is doing: runs, champion, canary, edge, freeze")
    status.add_argument(
        "--limit", metavar="N", type=_positive, default=DEFAULT_LIMIT, help="executions per workflow (default 5)"
    )
    status.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    for verb, decision in (("approve", "Approved"), ("reject", "Rejected")):
        sub = command(verb, help=f"mark a model package {decision}, recording who and why")
        sub.add_argument("package", help="model package ARN, or version number in the stack's group")
        sub.add_argument("--reason", required=True, help="why; recorded in the package's ApprovalDescription")
        sub.set_defaults(decision=decision)
    freeze = command("freeze", help="freeze releases by hand, recording who and why")
    freeze.add_argument("--reason", required=True, help="why; recorded on the freeze")
    unfreeze = command("unfreeze", help="acknowledge a finding, or lift a freeze set by hand")
    unfreeze.add_argument(
        "--finding", metavar="ID", help="the finding to acknowledge (the alert names it); none: a freeze by hand"
    )
    unfreeze.add_argument("--reason", required=True, help="what you found and why releasing is safe")
    tear = command(
        "teardown", help="before `sam delete`: empty the buckets it must delete, keep what DeletionPolicy Retain keeps"
    )
    tear.add_argument("--yes", action="store_true", help="empty without asking for the stack's name (for scripts)")
    demo = command("demo", help="the whole loop on a local cloud (no AWS account), on your data if given")
    demo.add_argument("--dataset", type=Path, metavar="DATA.csv", help="a binary-classification CSV of your own")
    demo.add_argument("--schema", type=Path, metavar="SCHEMA.json", help="its schema (`conveyor schema infer`)")
    demo.add_argument("--summary", type=Path, default=Path("build/demo/summary.json"), help="where the summary goes")
    demo.add_argument("--template", type=Path, default=Path("template.yaml"), help="the stack's SAM template")
    schema = command("schema", help="feature schemas").add_subparsers(dest="schema_command", required=True)
    diff = schema.add_parser("diff", help="what deploying schema NEW over OLD does to the data already in the stack")
    diff.add_argument("old", help="the schema in force: a name, or a path to a .json file")
    diff.add_argument("new", help="the schema to deploy: a name, or a path to a .json file")
    infer = schema.add_parser("infer", help="write a feature schema for a CSV file of your own data")
    infer.add_argument("data", metavar="DATA.csv", help="the CSV file: a header naming the columns, then rows")
    infer.add_argument("--label", required=True, metavar="COLUMN", help="the label column: whole numbers, the classes")
    infer.add_argument("--name", help="the schema's name (default: the file's name made into one)")
    infer.add_argument(
        "--margin",
        type=_margin,
        default=0.1,
        metavar="FRACTION",
        help="bounds widen the observed range by this part of it on each side (default 0.1)",
    )
    infer.add_argument(
        "--output", metavar="PATH", help="where to write the schema (default: <name>.json in this directory)"
    )
    infer.add_argument("--force", action="store_true", help="overwrite the output file if it exists")
    local = command("local", help="the local cloud").add_subparsers(dest="local_command", required=True)
    up = local.add_parser(
        "up", parents=[stack], help="deploy template.yaml into a local cloud and serve it over HTTP until Ctrl-C"
    )
    up.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    up.add_argument("--port", type=int, default=4566, help="the port to listen on (default 4566; 0: a free one)")
    up.add_argument("--template", type=Path, default=Path("template.yaml"), help="the SAM template to deploy")
    up.add_argument(
        "--parameter",
        dest="parameters",
        metavar="KEY=VALUE",
        type=_parameter,
        action="append",
        default=[],
        help="a template parameter (repeatable)",
    )
    up.add_argument("--demo", action="store_true", help="run the demo's story in the served cloud first")
    up.add_argument("--dataset", type=Path, metavar="DATA.csv", help="with --demo: a binary-classification CSV")
    up.add_argument("--schema", type=Path, metavar="SCHEMA.json", help="with --demo: its schema")
    up.add_argument(
        "--summary", type=Path, default=Path("build/demo/summary.json"), help="where --demo writes its summary"
    )
    return parser


def _parameter(text: str) -> tuple[str, str]:
    key, equals, value = text.partition("=")
    if not (key and equals):
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key, value


def _stack_options(parser: argparse.ArgumentParser, defaults: dict[str, Any]) -> None:
    parser.add_argument(
        "--stack-name",
        "--stack",
        dest="stack_name",
        metavar="NAME",
        default=defaults["stack_name"],
        help="the CloudFormation stack name (default conveyor-dev)",
    )
    parser.add_argument(
        "--region", default=defaults["region"], help="the stack's region (default: the AWS configuration's)"
    )
    parser.add_argument(
        "--endpoint-url",
        metavar="URL",
        default=defaults["endpoint_url"],
        help="send every AWS call to this endpoint (default: AWS's own)",
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def main(argv: list[str] | None = None, connect: Callable[[str, str | None], Stack] | None = None) -> int:
    """Run one command; its exit status. ``connect`` (name, region) gives the stack (tests pass a LocalCloud)."""
    args = _parser().parse_args(argv)
    if args.command in STACKLESS:
        return STACKLESS[args.command](args)
    stack = (connect or functools.partial(_connect, endpoint_url=args.endpoint_url))(args.stack_name, args.region)
    try:
        if args.command == "status":
            return _status(stack, args)
        if args.command == "teardown":
            return _teardown(stack, args)
        if args.command in ("freeze", "unfreeze"):
            report = _freeze_command(stack, args)
        else:
            report = decide(stack, args.package, args.decision, args.reason)
    except (ApprovalError, freezing.FreezeError, teardown.TeardownError) as error:
        print(f"conveyor {args.command}: {error}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    return 0


def _demo(args: argparse.Namespace) -> int:
    if (args.dataset is None) != (args.schema is None):
        print("conveyor demo: --dataset and --schema go together", file=sys.stderr)
        return 2
    from conveyor_tools import demo  # noqa: PLC0415 - moto takes seconds to import; only the demo needs it

    return demo.command(args.template, args.summary, args.dataset, args.schema)


def _status(stack: Stack, args: argparse.Namespace) -> int:
    status = read_status(stack, args.limit)
    if args.json:
        print(status.model_dump_json(indent=2))
    else:
        print("\n".join(render(status, stack_name=args.stack_name, limit=args.limit)))
    return 0


def _teardown(stack: Stack, args: argparse.Namespace) -> int:
    plan = teardown.plan(stack, args.stack_name)
    print("\n".join(teardown.describe(plan)))
    region = f" --region {args.region}" if args.region else ""
    next_step = f"Next: sam delete --stack-name {args.stack_name}{region}"
    if not plan.to_empty:
        print(f"\nNothing to empty. {next_step}")
        return 0
    if not args.yes and (refusal := _unconfirmed(args.stack_name)):
        print(f"conveyor teardown: {refusal}; nothing was emptied", file=sys.stderr)
        return 1
    print()
    for bucket in plan.to_empty:
        removed = teardown.empty(stack.client("s3"), bucket.resource.physical_id)
        print(f"Emptied {bucket.resource.logical_id} {bucket.resource.physical_id}: {teardown.counted(removed)}")
    print(next_step)
    return 0


def _unconfirmed(stack_name: str) -> str | None:
    """Why emptying is not confirmed, or None once the operator typed the stack's name."""
    if not sys.stdin.isatty():
        return "no terminal to confirm on: run it in one, or pass --yes once you have read the plan"
    try:
        typed = input(f"\nType the stack name ({stack_name}) to empty the buckets above: ").strip()
    except EOFError:
        typed = ""
    return None if typed == stack_name else f"{typed!r} is not the stack's name"


def _freeze_command(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    now = datetime.now(UTC)
    if args.command == "freeze":
        return freezing.freeze(stack, args.reason, now=now).model_dump(mode="json")
    if args.finding is not None:
        return freezing.acknowledge(stack, args.finding, args.reason)
    return freezing.lift(stack, args.reason, now=now).model_dump(mode="json")


def _local_up(args: argparse.Namespace) -> int:
    from conveyor_tools import demo, local_server  # noqa: PLC0415 - moto takes seconds to import; only this needs it
    from localcloud.cloud import REGION, LocalCloud  # noqa: PLC0415

    if args.region not in (None, REGION):
        print(f"conveyor local up: the local cloud has one region, {REGION}, not {args.region}", file=sys.stderr)
        return 1
    if (args.dataset or args.schema) and not (args.demo and args.dataset and args.schema):
        print("conveyor local up: --dataset and --schema go together, with --demo", file=sys.stderr)
        return 2
    try:
        data = demo.load_data(args.dataset, args.schema) if args.demo else None
    except demo.DemoDataError as error:
        print(f"conveyor local up: {error}", file=sys.stderr)
        return 2
    parameters = {**(demo.parameters(data) if args.demo else {}), **dict(args.parameters)}
    cloud = LocalCloud.from_template(args.template, parameters=parameters, stack_name=args.stack_name)
    try:
        with cloud, local_server.serving(cloud, args.host, args.port) as url:
            if args.demo:
                print(f"Serving at {url}; the demo's story first", flush=True)
                try:
                    played = demo.play(cloud, args.summary, data)
                    demo.check_report(args.summary.with_name("report.html"), demo.report.plots(played))
                except demo.DemoFailedError as error:
                    print(f"conveyor local up: the demo failed, serving what it left: {error}", file=sys.stderr)
            print("\n".join(local_server.instructions(cloud, url)), flush=True)
            with local_server.keeping_time(cloud):
                local_server.wait_for_stop()
    except OSError as error:
        print(
            f"conveyor local up: cannot serve on {args.host}:{args.port}: {error} (--port 0 picks a free port)",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("conveyor local up: interrupted before serving; the local cloud is closed", file=sys.stderr)
        return 130
    print("Stopped: the local cloud is closed", flush=True)
    return 0


def _schema(args: argparse.Namespace) -> int:
    return _schema_diff(args.old, args.new) if args.schema_command == "diff" else _schema_infer(args)


def _schema_diff(old: str, new: str) -> int:
    try:
        lines = schema_diff.describe(schema_diff.load(old), schema_diff.load(new))
    except schema_diff.SchemaFileError as error:
        print(f"conveyor schema diff: {error}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


def _schema_infer(args: argparse.Namespace) -> int:
    try:
        inferred = schema_infer.infer(Path(args.data), args.label, name=args.name, margin=args.margin)
        output = Path(args.output or f"{inferred.schema.name}.json")
        schema_infer.write(inferred.schema, output, force=args.force)
    except schema_infer.InferError as error:
        print(f"conveyor schema infer: {error}", file=sys.stderr)
        return 1
    print("\n".join(schema_infer.describe(inferred, output)))
    return 0


def _margin(text: str) -> float:
    """A margin: a finite fraction of the observed range, 0 or more."""
    try:
        margin = float(text)
    except ValueError:
        margin = math.nan
    if not (math.isfinite(margin) and margin >= 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction of 0 or more (0.1 widens by 10 %)")
    return margin


# The commands that need no deployed stack.
STACKLESS: dict[str, Callable[[argparse.Namespace], int]] = {"demo": _demo, "local": _local_up, "schema": _schema}


def _connect(name: str, region: str | None, *, endpoint_url: str | None = None) -> Stack:
    return DeployedStack(name, boto3.session.Session(region_name=region), endpoint_url)
