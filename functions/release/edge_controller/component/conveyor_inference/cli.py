"""``python3 -m conveyor_inference``: ``selftest`` (the recipe's Install step) and ``serve`` (its Run step).

Exit status: 0 done; 1 the self-test found a prediction that misses XGBoost's; 2 a usage error or
a malformed ``selftest.json``; 3 the model cannot be loaded or run.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from . import selftest
from .model import load
from .native import CompiledModelError
from .runner import RUNNER_VARIABLE
from .serve import Server
from .sinks import IPC_SOCKET_VARIABLE, choose_sink

PROG = "conveyor_inference"
MISMATCH, MALFORMED, UNLOADABLE = 1, 2, 3
DEFAULT_TOPIC = "conveyor/predictions"
LOG = logging.getLogger(PROG)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog=PROG,
        description="Conveyor's edge inference component: check and serve a model compiled by SageMaker Neo.",
        epilog=f"{RUNNER_VARIABLE}: a command that runs the library instead of loading it in this process "
        "(the library's path is appended; rows of CSV on stdin, predictions on stdout). "
        f"{IPC_SOCKET_VARIABLE} (set by the Greengrass nucleus): publish predictions over IPC.",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="{selftest,serve}")
    check = commands.add_parser(
        "selftest",
        help="predict the self-test rows and compare them with XGBoost's predictions",
        description="Exit 0 when every prediction is within the tolerance, 1 naming the first that is not, "
        "2 for a malformed self-test file, 3 when the model cannot be loaded.",
    )
    serve = commands.add_parser("serve", help="predict CSV readings files as they appear, until SIGTERM")
    for command in (check, serve):
        command.add_argument("--model", type=Path, required=True, help="the Neo output tarball (model-<target>.tar.gz)")
        command.add_argument(
            "--work", type=Path, required=True, help="the component's work folder (models are extracted here)"
        )
    check.add_argument("--selftest", type=Path, required=True, help="selftest.json: rows, expected, tolerance")
    serve.add_argument(
        "--readings", type=Path, default=Path("readings"), help="folder of *.csv readings (relative to --work)"
    )
    serve.add_argument(
        "--predictions", type=Path, default=Path("predictions"), help="folder of *.jsonl outputs (relative to --work)"
    )
    serve.add_argument("--topic", default=DEFAULT_TOPIC, help="the IPC topic predictions are published to")
    serve.add_argument("--poll-seconds", type=_positive, default=1.0, help="how often to look for new readings")
    serve.add_argument("--once", action="store_true", help="serve the readings waiting now, then exit")
    return top


def main(argv: list[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    logging.basicConfig(format=f"{PROG} %(levelname)s: %(message)s", stream=sys.stderr)
    LOG.setLevel(logging.INFO)
    try:
        if arguments.command == "selftest":
            return run_selftest(arguments.model, arguments.work, arguments.selftest)
        return run_serve(arguments)
    except CompiledModelError as error:
        LOG.error("the model %s cannot be used: %s", arguments.model, error)
        return UNLOADABLE
    except selftest.SelfTestFileError as error:
        LOG.error("%s", error)
        return MALFORMED


def run_selftest(model_path: Path, work: Path, selftest_path: Path) -> int:
    test = selftest.read(selftest_path)
    model = load(model_path, work)
    mismatch = selftest.check(model, test)
    if mismatch is not None:
        LOG.error("self-test failed on %s: %s", model_path, mismatch)
        return MISMATCH
    LOG.info("self-test passed on %s: %d rows within %g of XGBoost", model_path, len(test.rows), test.tolerance)
    return 0


def run_serve(arguments: argparse.Namespace) -> int:
    work: Path = arguments.work
    model = load(arguments.model, work)
    sink = choose_sink(arguments.topic, work / arguments.predictions)
    server = Server(model, work / arguments.readings, sink)
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        LOG.info("%s: stopping after the file being served", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    LOG.info("serving %s from %s into %s", arguments.model, server.readings, type(sink).__name__)
    served = server.run(stop, arguments.poll_seconds, once=arguments.once)
    LOG.info("served %d readings files", served)
    return 0


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} must be more than 0 seconds")
    return value
