"""``conveyor-local``: the local cloud from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from conveyor_tools import demo
from localcloud.template import translate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="conveyor-local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    translate_command = commands.add_parser(
        "translate", help="write the SAM-translated CloudFormation template (for scans)"
    )
    translate_command.add_argument("--template", type=Path, default=Path("template.yaml"))
    translate_command.add_argument("--output", type=Path, required=True)
    demo_command = commands.add_parser("demo", help="run the whole loop on the local cloud")
    demo_command.add_argument("--template", type=Path, default=Path("template.yaml"))
    demo_command.add_argument("--summary", type=Path, default=Path("build/demo/summary.json"))
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo.command(args.template, args.summary)
    if args.command == "translate":
        translated = translate(args.template)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(translated.body, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    return 0
