"""Handlers trace with Powertools' Tracer when tracing is on, and load nothing of X-Ray when it is off."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from aws_lambda_powertools import Tracer

from conveyor.tracing import Untraced, handler_tracer
from tests.conftest import ROOT

# A cold start of a handler module that uses the tracer, in a clean interpreter.
COLD_START = """
import sys
from conveyor.tracing import handler_tracer
tracer = handler_tracer()

@tracer.capture_lambda_handler(capture_response=False)
def handler(event, context):
    return event

assert handler({"ok": True}, None) == {"ok": True}
print(sorted({name.split(".")[0] for name in sys.modules} & {"aws_xray_sdk"}))
"""


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return event


def cold_start(trace_disabled: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", COLD_START],
        env={"PYTHONPATH": str(ROOT / "layers" / "shared"), "POWERTOOLS_TRACE_DISABLED": trace_disabled},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_with_tracing_on_handlers_get_powertools_tracer(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given tracing on, as the template deploys every function (Tracing: Active)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    # When a handler module asks for its tracer
    tracer = handler_tracer()
    # Then it is Powertools' Tracer, which records the invocation and the AWS calls in X-Ray
    assert isinstance(tracer, Tracer)


def test_with_tracing_off_the_handler_runs_undecorated(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given tracing turned off with Powertools' own variable
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    # When the handler is decorated, with and without options
    tracer = handler_tracer()
    # Then the decorators hand back the handler itself
    assert isinstance(tracer, Untraced)
    assert tracer.capture_lambda_handler(handler) is handler
    assert tracer.capture_lambda_handler(capture_response=False)(handler) is handler


def test_with_tracing_off_a_cold_start_imports_nothing_of_xray() -> None:
    # Given a handler module that decorates its handler with the tracer
    # When it cold-starts and is invoked with tracing off, then with tracing on
    # Then only the traced one loads the X-Ray SDK
    assert cold_start(trace_disabled="true") == "[]"
    assert cold_start(trace_disabled="false") == "['aws_xray_sdk']"
