"""An invocation that runs past its function's Timeout is stopped as Lambda stops it."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from localcloud import LocalCloud
from tests.conftest import FIXTURES

pytestmark = pytest.mark.localcloud


def invoke(cloud: LocalCloud, name: str, payload: dict[str, object]) -> tuple[dict[str, object], bool]:
    response = cloud.client("lambda").invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    return json.loads(response["Payload"].read()), "FunctionError" in response


def test_a_handler_past_its_timeout_is_stopped_and_reported_as_timed_out(cloud: LocalCloud, tmp_path: Path) -> None:
    # Given a function with a one-second timeout
    cloud.deploy_function("slow", FIXTURES / "functions" / "slow", timeout=1)
    marker = tmp_path / "finished"
    # When it is invoked with three seconds of work
    started = time.monotonic()
    answer, errored = invoke(cloud, "slow", {"seconds": 3, "marker": str(marker)})
    elapsed = time.monotonic() - started
    # Then the caller hears "Task timed out" after about a second, as Lambda says it
    assert errored
    assert answer["errorType"] == "Sandbox.Timedout"
    assert str(answer["errorMessage"]).endswith("Task timed out after 1.00 seconds")
    assert elapsed < 2.5
    # And the handler really stopped: it never finished its work
    time.sleep(2.5)
    assert not marker.exists()


def test_a_handler_within_its_timeout_finishes_and_sees_its_remaining_time(cloud: LocalCloud, tmp_path: Path) -> None:
    # Given a function with a three-second timeout
    cloud.deploy_function("slow", FIXTURES / "functions" / "slow", timeout=3)
    marker = tmp_path / "finished"
    # When it works for a fifth of a second
    answer, errored = invoke(cloud, "slow", {"seconds": 0.2, "marker": str(marker)})
    # Then it finishes, and the context counted down from the timeout
    assert not errored
    assert marker.read_text() == "finished"
    assert 2000 < int(str(answer["remaining_ms"])) < 2900


def test_what_other_threads_print_while_a_handler_runs_is_not_in_its_logs(cloud: LocalCloud, tmp_path: Path) -> None:
    # Given a function invoked on another thread (as a workflow's task invokes one), working for a while
    cloud.deploy_function("slow", FIXTURES / "functions" / "slow", timeout=3)
    payload = {"seconds": 0.5, "marker": str(tmp_path / "finished")}
    worker = threading.Thread(target=invoke, args=(cloud, "slow", payload))
    worker.start()
    # When this thread prints while it runs
    while worker.is_alive():
        print("the process's own line")
        time.sleep(0.05)
    worker.join()
    # Then the function's logs hold what it printed, and nothing of this thread's
    [invocation] = [i for i in cloud.runtime.invocations if i.function_name == "slow"]
    assert "working for 0.5 s" in invocation.logs
    assert "the process's own line" not in invocation.logs
