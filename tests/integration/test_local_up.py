"""``conveyor local up``: the local cloud served over HTTP, read and changed from both sides.

Boto3 clients in this process still pass through the local cloud's client-side patches (its IAM
decision, its CloudTrail) before their request leaves for the server; what only the server sees is
checked with raw HTTP requests, and the command itself runs in a process of its own.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from conveyor.schema import load_schema
from conveyor.state.control import freeze_state
from conveyor_tools import freezing
from conveyor_tools.local_server import keeping_time, serving
from conveyor_tools.operator_cli import main
from conveyor_tools.stack import keys, upload
from conveyor_tools.status import read_status
from conveyor_tools.synthetic import csv_text, records
from localcloud import LocalCloud
from localcloud.iam import ADMIN_ACCESS_KEY
from tests.conftest import ROOT, TEMPLATE
from tests.helpers import Printed

pytestmark = pytest.mark.localcloud

PARAMETERS = {"EndpointEnabled": "false"}
COLUMNS = load_schema("predictive_maintenance").columns


@contextmanager
def served_stack() -> Iterator[tuple[LocalCloud, str]]:
    """A fresh stack, served on a free port: (the cloud, its URL). One at a time: moto's backends are the process's."""
    with LocalCloud.from_template(TEMPLATE, parameters=PARAMETERS) as cloud, serving(cloud) as url:
        yield cloud, url


def over_http(url: str, service: str) -> Any:
    """A boto3 client of ``service`` whose requests go to ``url``, signed as the administrator."""
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=ADMIN_ACCESS_KEY,
        aws_secret_access_key=ADMIN_ACCESS_KEY,
    )


def conveyor_over_http(cloud: LocalCloud, url: str, *argv: str) -> Printed:
    """Run ``conveyor --endpoint-url URL --stack-name <the stack> ARGV``, as an operator would."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(["--endpoint-url", url, "--stack-name", cloud.stack_name, *argv])
    return Printed(status, out.getvalue(), err.getvalue())


def raw_request(url: str, path: str = "/", *, access_key: str | None, method: str = "GET") -> tuple[int, str]:
    """A request that no botocore client sees: (status, body). ``access_key`` None: unsigned."""
    request = urllib.request.Request(url + path, method=method)
    if access_key is not None:
        scope = f"{access_key}/20260101/us-east-1/s3/aws4_request"
        request.add_header("Authorization", f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class TestReadingOverHttp:
    @pytest.fixture(scope="class")
    @classmethod
    def served(cls) -> Iterator[tuple[LocalCloud, str]]:
        with served_stack() as served:
            yield served

    def test_boto3_describes_the_stack_and_lists_its_buckets(self, served: tuple[LocalCloud, str]) -> None:
        # Given a served stack
        cloud, url = served
        # When boto3 describes the stack and lists the buckets through the URL
        [described] = over_http(url, "cloudformation").describe_stacks(StackName=cloud.stack_name)["Stacks"]
        buckets = {bucket["Name"] for bucket in over_http(url, "s3").list_buckets()["Buckets"]}
        # Then it sees the stack's outputs and buckets, as read in process
        assert {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]} == cloud.outputs
        assert {cloud.outputs["DataBucketName"], cloud.outputs["ArtifactBucketName"]} <= buckets

    def test_status_over_http_is_the_status_read_in_process(self, served: tuple[LocalCloud, str]) -> None:
        cloud, url = served
        # When an operator asks the served stack for its status
        printed = conveyor_over_http(cloud, url, "status", "--json")
        # Then it is the document read in process
        assert (printed.status, printed.err) == (0, "")
        assert json.loads(printed.out) == read_status(cloud).model_dump(mode="json")

    def test_a_lambda_invoke_over_http_runs_the_handler_in_the_local_cloud(
        self, served: tuple[LocalCloud, str]
    ) -> None:
        cloud, url = served
        function = cloud.outputs["HealthFunctionName"]
        before = len(cloud.runtime.invocations)
        # When the health function is invoked through the URL
        response = over_http(url, "lambda").invoke(FunctionName=function)
        # Then the handler ran in the local cloud's runtime (no Docker) and answered
        assert json.loads(response["Payload"].read())["version"] == cloud.outputs["Version"]
        assert [i.function_name for i in cloud.runtime.invocations[before:]] == [function]

    def test_the_administrators_key_is_let_in(self, served: tuple[LocalCloud, str]) -> None:
        cloud, url = served
        # When a request that no client-side check saw arrives signed with the administrator's key
        status, body = raw_request(url, access_key=ADMIN_ACCESS_KEY)
        # Then it is answered (S3 ListBuckets)
        assert status == 200
        assert cloud.outputs["DataBucketName"] in body

    @pytest.mark.parametrize("access_key", ["AKIAIOSFODNN7EXAMPLE", None], ids=["another key", "unsigned"])
    def test_any_other_request_is_refused(self, served: tuple[LocalCloud, str], access_key: str | None) -> None:
        _, url = served
        # When a request arrives signed with another key, or unsigned
        status, body = raw_request(url, access_key=access_key)
        # Then it is refused as AWS refuses an unknown key, naming the key to use
        assert status == 403
        assert "<Code>UnrecognizedClientException</Code>" in body
        assert f"access key {ADMIN_ACCESS_KEY}" in body

    def test_motos_own_api_is_refused(self, served: tuple[LocalCloud, str]) -> None:
        cloud, url = served
        # When someone asks moto to reset itself through the URL
        status, _ = raw_request(url, "/moto-api/reset", access_key=ADMIN_ACCESS_KEY, method="POST")
        # Then it is refused and the stack is still there
        assert status == 403
        assert cloud.client("cloudformation").describe_stacks(StackName=cloud.stack_name)["Stacks"]

    def test_what_falls_due_on_stack_time_runs_while_serving(self, served: tuple[LocalCloud, str]) -> None:
        cloud, _ = served
        ticked = threading.Event()
        cloud.tickers.append(ticked.set)
        try:
            # When the served cloud keeps time, and no one advances it
            with keeping_time(cloud, every=0.05):
                # Then the tickers (schedules, alarm evaluation...) run by themselves
                assert ticked.wait(timeout=10)
        finally:
            cloud.tickers.remove(ticked.set)


class TestChangingOverHttp:
    @pytest.fixture(scope="class")
    @classmethod
    def changed(cls) -> Iterator[tuple[LocalCloud, str]]:
        with served_stack() as served:
            yield served

    def test_an_upload_over_http_is_ingested(self, changed: tuple[LocalCloud, str]) -> None:
        cloud, url = changed
        # When valid rows are uploaded under incoming/ through the URL
        body = csv_text(records(40, seed=11), COLUMNS).encode()
        upload(_Served(cloud, url), "over-http.csv", body)
        cloud.run_until_idle()
        # Then the S3 notification reached the ingest function: the rows are a part of the dataset
        assert keys(cloud, "datasets/parts/")
        assert not keys(cloud, "quarantine/")

    def test_a_freeze_over_http_is_the_freeze_read_in_process_and_back(self, changed: tuple[LocalCloud, str]) -> None:
        cloud, url = changed
        # When an operator freezes releases through the URL
        frozen = conveyor_over_http(cloud, url, "freeze", "--reason", "over http")
        # Then the stack is frozen in process, with that reason, and both sides read the same status
        assert frozen.status == 0
        freeze = freeze_state(cloud.outputs["StateTableName"], cloud.client("dynamodb"))
        assert (freeze.frozen, freeze.reason) == (True, "over http")
        status = conveyor_over_http(cloud, url, "status", "--json")
        assert json.loads(status.out) == read_status(cloud).model_dump(mode="json")
        # And when the freeze is lifted in process, the URL says so
        freezing.lift(cloud, "in process", now=datetime.now(UTC))
        assert json.loads(conveyor_over_http(cloud, url, "status", "--json").out)["freeze"]["frozen"] is False


class _Served:
    """The served stack as a :class:`~conveyor_tools.stack.Stack` whose clients go over HTTP."""

    def __init__(self, cloud: LocalCloud, url: str) -> None:
        self.outputs = cloud.outputs
        self._url = url

    def client(self, service: str) -> Any:
        return over_http(self._url, service)


def test_local_up_serves_until_interrupted() -> None:
    # Given `conveyor local up` on a free port, in a process of its own
    command = [sys.executable, "-c", "from conveyor_tools.operator_cli import main; raise SystemExit(main())"]
    arguments = ["--stack-name", "conveyor-up", "local", "up", "--port", "0", "--template", str(TEMPLATE)]
    arguments += ["--parameter", "EndpointEnabled=false"]
    process = subprocess.Popen(
        [*command, *arguments],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # When it has printed where it serves
        assert process.stdout is not None
        printed = [process.stdout.readline()]
        assert printed[0].startswith("Local cloud serving stack conveyor-up at http://127.0.0.1:"), printed
        url = printed[0].split(" at ", 1)[1].split()[0]
        while printed[-1] and not printed[-1].startswith("Ctrl-C"):
            printed.append(process.stdout.readline())
        # Then the stack answers there, as the administrator's credentials it printed
        [described] = over_http(url, "cloudformation").describe_stacks(StackName="conveyor-up")["Stacks"]
        assert described["StackStatus"] == "CREATE_COMPLETE"
        # And Ctrl-C stops it cleanly
        process.send_signal(signal.SIGINT)
        rest, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    out = "".join(printed) + rest
    assert f"export AWS_ENDPOINT_URL={url} AWS_ACCESS_KEY_ID={ADMIN_ACCESS_KEY}" in out
    assert out.rstrip().endswith("Stopped: the local cloud is closed")


def test_local_up_on_a_port_in_use_says_so_and_exits() -> None:
    # Given a port another server holds
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        # When `conveyor local up` is asked to serve there
        command = [sys.executable, "-c", "from conveyor_tools.operator_cli import main; raise SystemExit(main())"]
        arguments = ["local", "up", "--port", str(port), "--template", str(TEMPLATE)]
        done = subprocess.run(
            [*command, *arguments],
            check=False,
            cwd=ROOT,
            env=os.environ.copy(),
            capture_output=True,
            text=True,
            timeout=120,
        )
    # Then it stops at once, naming the port and the way out
    assert done.returncode == 1
    assert f"Port {port} is in use" in done.stderr
    assert f"cannot serve on 127.0.0.1:{port}: the port is taken" in done.stderr
    assert "--port 0 picks a free port" in done.stderr
