"""Serve a running LocalCloud over HTTP, from its own process, so that the AWS CLI, boto3 and
``conveyor --endpoint-url`` can reach it (``conveyor local up``).

Moto's ``ThreadedMotoServer`` answers on a port, in a thread of the process that holds the local
cloud, so the requests reach the same backends and the adapters patched into them: a Lambda
invoke runs the handler in the cloud's runtime (no Docker), an upload raises its S3 notification,
an execution runs in moto's interpreter on the cloud's scaled clock. What the local cloud does in
the client (botocore) side of its own requests cannot apply to a request that arrives over HTTP;
this module's door (:class:`_Door`) does what it can of it at the server side:

- IAM is decided per call from the operation and its parameters, which only a botocore client
  knows. The door cannot, so it lets the administrator alone in: a request signed with
  ``ADMIN_ACCESS_KEY`` acts as the administrator (as tests and the demo do), any other is refused
  with ``UnrecognizedClientException``; unsigned requests too. The signature is not checked.
- Requests run one at a time under the cloud's request lock, as in-process requests do
  (:mod:`localcloud.adapters.atomic_requests`).
- Greengrass v2 (which moto lacks) is answered by the cloud's emulated control plane.
- ``/moto-api/`` (reset, configuration) is refused: it would wipe or reconfigure the cloud under
  its adapters.
- CloudTrail records no call that arrives over HTTP: the responder does not see tampering done
  through the server.

Stack time goes on at wall speed while serving; :func:`keeping_time` runs what falls due
(schedules, alarm evaluation, TTL expiry, Firehose retries) every second, as ``cloud.advance``
does in-process.
"""

from __future__ import annotations

import json
import re
import signal
import sys
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from localcloud.adapters.greengrassv2 import handle as greengrass_v2
from localcloud.cloud import LocalCloud
from localcloud.iam import ADMIN_ACCESS_KEY

PUMP_SECONDS = 1.0
"""How often :func:`keeping_time` runs what has fallen due."""
_ACCESS_KEY = re.compile(r"Credential=([^/,\s]+)/|^AWS ([^:\s]+):")
_SCOPE = re.compile(r"Credential=[^/,\s]+/[^/]+/[^/]+/([^/]+)/")


@contextmanager
def serving(cloud: LocalCloud, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``cloud`` on ``host``:``port`` (0: a free port) while the context lasts; yields its URL."""
    server = _Server(_Door(cloud), host, port)
    server.start()
    try:
        bound_host, bound_port = server.get_host_and_port()
        yield f"http://{bound_host}:{bound_port}"
    finally:
        server.stop()


@contextmanager
def keeping_time(cloud: LocalCloud, every: float = PUMP_SECONDS) -> Iterator[None]:
    """Run what falls due on stack time (``cloud.advance`` by nothing) every ``every`` seconds.

    In-process, a test or the demo moves stack time and so fires schedules and evaluates alarms;
    a served cloud has no one to do it. Executions and deliveries need no pump: they run on their
    own threads.
    """
    stopped = threading.Event()

    def pump() -> None:
        while not stopped.wait(every):
            try:
                cloud.advance(settle=False)
            except Exception as error:  # what failed is the stack's to report; serving goes on
                print(f"conveyor local up: while running what fell due: {error!r}", file=sys.stderr)

    thread = threading.Thread(target=pump, name="localcloud-pump", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join()


def wait_for_stop(stop: threading.Event | None = None) -> None:
    """Block until SIGINT or SIGTERM arrives (in the main thread), or until ``stop`` is set."""
    stopped = stop or threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for number in (signal.SIGINT, signal.SIGTERM):
            previous[number] = signal.signal(number, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.2):
            pass
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def instructions(cloud: LocalCloud, url: str) -> list[str]:
    """What a user needs to reach the served stack: its URL, outputs, and how to point clients at it."""
    credentials = f"AWS_ACCESS_KEY_ID={ADMIN_ACCESS_KEY} AWS_SECRET_ACCESS_KEY={ADMIN_ACCESS_KEY}"
    width = max((len(name) for name in cloud.outputs), default=0)
    return [
        f"Local cloud serving stack {cloud.stack_name} at {url} (region {cloud.region}, account {cloud.account_id})",
        "",
        "Outputs:",
        *(f"  {name:<{width}}  {value}" for name, value in sorted(cloud.outputs.items())),
        "",
        "Point the AWS CLI, boto3 or conveyor at it (any other access key is refused):",
        f"  export AWS_ENDPOINT_URL={url} {credentials} AWS_DEFAULT_REGION={cloud.region}",
        f"  aws cloudformation describe-stacks --stack-name {cloud.stack_name}",
        f"  conveyor status --endpoint-url {url} --stack-name {cloud.stack_name}",
        f'  boto3.client("s3", endpoint_url="{url}", region_name="{cloud.region}",'
        f' aws_access_key_id="{ADMIN_ACCESS_KEY}", aws_secret_access_key="{ADMIN_ACCESS_KEY}")',
        "Every request acts as the administrator (IAM is not evaluated over HTTP) and CloudTrail records none.",
        "Ctrl-C stops the server and the local cloud.",
    ]


class _Door:
    """The WSGI application in front of moto's: who may come in, one request at a time."""

    def __init__(self, cloud: LocalCloud) -> None:
        self._cloud = cloud
        self._moto = DomainDispatcherApplication(create_backend_app)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        if path.startswith("/moto-api"):
            return _refused(environ, start_response, 403, "AccessDenied", "the local cloud does not serve /moto-api")
        access_key = _access_key(environ)
        if access_key != ADMIN_ACCESS_KEY:
            message = (
                f"The security token included in the request is invalid (access key {access_key!r}): "
                f"over HTTP the local cloud admits its administrator alone, access key {ADMIN_ACCESS_KEY}"
            )
            return _refused(environ, start_response, 403, "UnrecognizedClientException", message)
        with self._cloud.deliveries.request_lock:
            if path.startswith("/greengrass/v2/") and self._cloud.greengrass is not None:
                return self._greengrass_v2(environ, start_response)
            # Read whole under the lock: moto's answer may be a generator over its backend.
            answer = self._moto(environ, start_response)
            try:
                return [b"".join(answer)]
            finally:
                if hasattr(answer, "close"):
                    answer.close()

    def _greengrass_v2(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        assert self._cloud.greengrass is not None
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        query = environ.get("QUERY_STRING", "")
        url = f"http://{environ.get('HTTP_HOST', 'localhost')}{environ['PATH_INFO']}" + (f"?{query}" if query else "")
        status, headers, answer = greengrass_v2(self._cloud.greengrass, environ["REQUEST_METHOD"], url, body)
        start_response(f"{status} {'OK' if status < 400 else 'Error'}", list(headers.items()))
        return [answer]


class _Server(ThreadedMotoServer):
    """Moto's threaded server, with the door in front of its application and no request log on stderr."""

    def __init__(self, door: _Door, host: str, port: int) -> None:
        super().__init__(ip_address=host, port=port, verbose=False)
        self._door = door

    def start(self) -> None:
        """Listen here, so that a port in use raises OSError to the caller (moto's start, binding in
        its thread, would wait forever for a server that never started), then serve on a thread."""
        try:
            self._server = make_server(self._ip_address, self._port, self._door, True, request_handler=_QuietHandler)
        except SystemExit as error:  # Werkzeug prints why it cannot listen, then exits
            raise OSError("the port is taken (see above)") from error
        self._server_ready_event.set()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()


class _QuietHandler(MotoRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def _access_key(environ: dict[str, Any]) -> str:
    """The access key a request is signed with (header or presigned query string); empty if unsigned."""
    found = _ACCESS_KEY.search(environ.get("HTTP_AUTHORIZATION", ""))
    if found:
        return str(found.group(1) or found.group(2))
    credential: str = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential", [""])[0]
    return credential.split("/", 1)[0]


def _refused(environ: dict[str, Any], start_response: Any, status: int, code: str, message: str) -> list[bytes]:
    """An error botocore parses as ``code`` whatever the protocol: JSON for JSON requests, XML otherwise."""
    request_id = str(uuid.uuid4())
    headers = [("x-amzn-ErrorType", code), ("x-amzn-RequestId", request_id)]
    # Query (form-encoded) and S3 (rest-xml) answer in XML; the other protocols in JSON.
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    xml = "form-urlencoded" in environ.get("CONTENT_TYPE", "") or scope is None or scope.group(1) == "s3"
    if not xml:
        body = json.dumps({"__type": code, "message": message}).encode()
        headers.append(("Content-Type", "application/x-amz-json-1.1"))
    else:
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers.append(("Content-Type", "text/xml"))
    start_response(f"{status} Refused", [*headers, ("Content-Length", str(len(body)))])
    return [body]
