"""``conveyor-local``: the local cloud from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from conveyor_tools import browser, demo
from conveyor_tools.demo import report as demo_report
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
    report_command = commands.add_parser("report", help="write the demo's summary as an HTML page")
    report_command.add_argument("summary", type=Path, help="the demo's summary.json")
    report_command.add_argument("--output", type=Path, default=Path("build/demo/report.html"))
    report_command.add_argument(
        "--check", action="store_true", help="open it in headless Chromium (screenshot beside it); exit 1 on a problem"
    )
    args = parser.parse_args(argv)
    if args.command == "report":
        return report(args.summary, args.output, check=args.check)
    if args.command == "demo":
        return demo.command(args.template, args.summary)
    if args.command == "translate":
        translated = translate(args.template)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(translated.body, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def report(summary: Path, output: Path, *, check: bool) -> int:
    """Write the report of a summary file; with ``check``, open it in Chromium and list what is wrong."""
    page = demo_report.write(json.loads(summary.read_text(encoding="utf-8")), output)
    print(f"wrote {page}", file=sys.stderr)
    if not check:
        return 0
    try:
        checked = browser.check_page(page, page.with_suffix(".png"))
    except (browser.BrowserUnavailableError, browser.BrowserError) as error:
        print(f"could not check {page}: {error}", file=sys.stderr)
        return 1
    for problem in checked.problems:
        print(f"{page}: {problem}", file=sys.stderr)
    print(f"checked {page} in Chromium: {len(checked.images)} images, screenshot {checked.screenshot}", file=sys.stderr)
    return 1 if checked.problems else 0
