"""Run Lambda functions in-process, from their own folders, with their own environment.

Every invoke path in moto (the Lambda API, Step Functions, EventBridge, SNS, S3) ends in
``LambdaFunction._invoke_lambda``; the local cloud replaces it with :meth:`LambdaRuntime.invoke`.
An invocation that runs past the function's ``Timeout`` (wall clock, since handler CPU time is
real) is stopped as Lambda stops it: the handler is interrupted, the caller gets
``Sandbox.Timedout`` / "Task timed out after N seconds", and the next invocation starts cold.
A handler blocked inside one long C call is interrupted when that call returns.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import io
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

import boto3
import botocore.loaders
import botocore.session


class FunctionCodeNotFoundError(Exception):
    """A function's code location is not one the local cloud staged."""


class TimedOutError(BaseException):
    """Raised inside a handler that runs past its function's Timeout.

    A BaseException, so that a handler's ``except Exception`` cannot swallow it.
    """


@dataclass
class LambdaContext:
    """The context object Lambda passes to a handler (the fields Powertools reads)."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    deadline: float = field(default_factory=lambda: time.monotonic() + 900)
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass
class Invocation:
    """One finished invocation, kept so tests and the demo can inspect what ran."""

    function_name: str
    event: Any
    result: Any
    error_type: str | None
    logs: str = ""


class RoutedStream(io.TextIOBase):
    """sys.stdout during invocations: an invocation's output goes to its own buffer.

    Powertools' Logger binds the stream it finds when the handler module is imported (during the
    first invocation), so one stand-in serves every invocation and passes through between them.
    """

    def __init__(self, passthrough: TextIO) -> None:
        self.passthrough = passthrough
        self.capture: io.StringIO | None = None
        self.owner: int | None = None
        """The thread of the invocation capturing: what other threads print (the process's own
        output, while a handler runs on a workflow's thread) is not the function's."""

    def write(self, text: str) -> int:
        mine = self.capture is not None and self.owner == threading.get_ident()
        return (self.capture if mine and self.capture is not None else self.passthrough).write(text)

    def flush(self) -> None:
        self.passthrough.flush()


class LambdaRuntime:
    """Loads handlers from source folders and invokes them under the function's environment."""

    def __init__(
        self,
        code: dict[str, Path],
        base_environment: dict[str, str],
        credentials: Callable[[Any], Mapping[str, str]] | None = None,
    ) -> None:
        self._code = code
        self._base_environment = base_environment
        self._credentials = credentials
        """The environment variables that give a function its role's credentials."""
        self._sessions: dict[str, boto3.Session] = {}
        self._layer_clients: dict[str, Callable[[str], Any]] = {}
        self._modules: dict[tuple[str, str, str], ModuleType] = {}
        # One invocation at a time: os.environ is process-wide. Re-entrant, because a handler
        # may invoke another function synchronously through the Lambda API.
        self._lock = threading.RLock()
        self.invocations: list[Invocation] = []
        self.stdout: RoutedStream | None = None

    @contextmanager
    def capturing_output(self) -> Iterator[None]:
        """Route what handlers print (logs, EMF metrics) into their invocation's logs."""
        self.stdout = RoutedStream(sys.stdout)
        try:
            yield
        finally:
            self.stdout = None

    def add_code(self, s3_key: str, source: Path) -> None:
        """Register a code location (used for functions created outside the template)."""
        self._code[s3_key] = source

    def invoke(self, function: Any, event: Any) -> tuple[str, bool, str]:
        """Run ``function`` (a moto ``LambdaFunction``) on ``event``: (payload, errored, logs)."""
        if isinstance(event, str | bytes):
            event = json.loads(event or "{}")
        timeout = float(function.timeout)
        with self._lock, self._environment(function), self._sdk_state(function), self._captured() as output:
            timed_out: type[TimedOutError] | None = None
            try:
                handler = self._handler(function)
                context = self._context(function, timeout)
                with _deadline(timeout) as timed_out:
                    result = handler(event, context)
            except TimedOutError as error:
                if timed_out is None or not isinstance(error, timed_out):
                    raise  # an outer invocation's deadline: it is that one's to report
                # Lambda stops the sandbox: the next invocation is a cold start.
                self._modules.pop(_sandbox(function), None)
                self._layer_clients.pop(function.function_name, None)
                message = f"RequestId: {context.aws_request_id} Error: Task timed out after {timeout:.2f} seconds"
                print(message)
                logs = output.getvalue()
                self.invocations.append(Invocation(function.function_name, event, None, "Sandbox.Timedout", logs))
                return json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": message}), True, logs
            except Exception as error:
                print(traceback.format_exc())
                payload = {
                    "errorType": type(error).__name__,
                    "errorMessage": str(error),
                    "stackTrace": traceback.format_tb(error.__traceback__),
                }
                logs = output.getvalue()
                self.invocations.append(Invocation(function.function_name, event, None, type(error).__name__, logs))
                return json.dumps(payload), True, logs
        logs = output.getvalue()
        self.invocations.append(Invocation(function.function_name, event, result, None, logs))
        return json.dumps(result), False, logs

    @contextmanager
    def _captured(self) -> Iterator[io.StringIO]:
        buffer = io.StringIO()
        stream = self.stdout
        if stream is None:
            yield buffer
            return
        outer = stream.capture, stream.owner
        stream.capture, stream.owner = buffer, threading.get_ident()
        try:
            with redirect_stdout(stream):
                yield buffer
        finally:
            stream.capture, stream.owner = outer

    def _handler(self, function: Any) -> Any:
        s3_key = function.code.get("S3Key", "")
        if s3_key not in self._code:
            raise FunctionCodeNotFoundError(
                f"function {function.function_name}: code s3://.../{s3_key} was not staged by the local cloud"
            )
        module_name, _, attribute = function.handler.rpartition(".")
        cache_key = _sandbox(function)
        if cache_key not in self._modules:
            self._modules[cache_key] = self._load(self._code[s3_key], module_name, function.function_name)
        return getattr(self._modules[cache_key], attribute)

    @staticmethod
    def _load(root: Path, module_name: str, function_name: str) -> ModuleType:
        """Import the handler module as a cold start would: fresh, from the function's folder."""
        path = root.joinpath(*module_name.split(".")).with_suffix(".py")
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        unique_name = f"localcloud_function_{function_name.replace('-', '_')}_{module_name}"
        spec = importlib.util.spec_from_file_location(unique_name, path)
        if spec is None or spec.loader is None:
            raise FunctionCodeNotFoundError(f"function {function_name}: handler module {path} not found")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    @contextmanager
    def _environment(self, function: Any) -> Iterator[None]:
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self._base_environment)
        os.environ.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": str(function.version),
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
                "AWS_REGION": function.region,
                "AWS_DEFAULT_REGION": function.region,
                "_HANDLER": function.handler,
                # The local cloud has no X-Ray daemon to send segments to.
                "POWERTOOLS_TRACE_DISABLED": "true",
            }
        )
        os.environ.update({name: str(value) for name, value in function.environment_vars.items()})
        if self._credentials is not None:
            os.environ.update(self._credentials(function))
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)

    @contextmanager
    def _sdk_state(self, function: Any) -> Iterator[None]:
        """The function's own boto3 session and shared layer's clients, never another function's.

        Functions share this process (and the shared layer's client cache); on Lambda each has a
        process of its own whose clients sign with its role, and a warm one keeps them.
        """
        name = function.function_name
        saved = boto3.DEFAULT_SESSION
        if name not in self._sessions:
            self._sessions[name] = new_session()
        boto3.DEFAULT_SESSION = self._sessions[name]
        shared: Any = sys.modules.get("conveyor.aws")
        layer_client = getattr(shared, "client", None)
        factory = getattr(layer_client, "__wrapped__", None)
        if factory is not None:
            # The layer's cached factory, caching the function's own clients (making one took 10 ms).
            shared.client = self._layer_clients.setdefault(name, functools.cache(factory))
        else:
            _clear_client_caches()  # the first invocation imports the layer: nothing to swap yet
        try:
            yield
        finally:
            if factory is not None:
                shared.client = layer_client
            else:
                _clear_client_caches()
            boto3.DEFAULT_SESSION = saved

    @staticmethod
    def _context(function: Any, timeout: float) -> LambdaContext:
        return LambdaContext(
            function_name=function.function_name,
            function_version=str(function.version),
            invoked_function_arn=function.function_arn,
            memory_limit_in_mb=int(function.memory_size),
            deadline=time.monotonic() + timeout,
        )


@contextmanager
def _deadline(seconds: float) -> Iterator[type[TimedOutError]]:
    """Interrupt this thread with its own TimedOutError subclass once ``seconds`` have passed."""
    timed_out = type("TimedOutError", (TimedOutError,), {})
    thread = ctypes.c_ulong(threading.get_ident())
    lock = threading.Lock()
    state = {"done": False, "fired": False}

    def fire() -> None:
        with lock:
            if not state["done"]:
                state["fired"] = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(thread, ctypes.py_object(timed_out))

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield timed_out
    finally:
        with lock:
            state["done"] = True
            timer.cancel()
            if state["fired"]:  # fired but perhaps not yet delivered: never let it land later
                ctypes.pythonapi.PyThreadState_SetAsyncExc(thread, None)


class _SharedLoader(botocore.loaders.Loader):  # type: ignore[misc]
    """Service models read from disk once per process, for every function's session.

    boto3 adds its own data folder to a session's loader each time it makes a session: this
    loader has it already, and its search path stays as it is.
    """

    def __init__(self) -> None:
        super().__init__()
        self._search_paths.append(str(Path(boto3.__file__).parent / "data"))

    @property
    def search_paths(self) -> list[str]:
        return list(self._search_paths)


_LOADER = _SharedLoader()


def new_session() -> boto3.Session:
    """A boto3 session of its own (credentials, clients) that reads service models through the process-wide loader.

    Each session would otherwise read and parse the models of every service it makes a client of
    (SageMaker's is 1 MB of JSON): a fifth of a second per function, and as much again for the
    local cloud's own clients, at every deploy.
    """
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return boto3.Session(botocore_session=core)


def _clear_client_caches() -> None:
    """Forget the shared layer's cached clients (``conveyor.aws.client``), if it is loaded."""
    shared = sys.modules.get("conveyor.aws")
    cached = getattr(shared, "client", None)
    if cached is not None and hasattr(cached, "cache_clear"):
        cached.cache_clear()


def _sandbox(function: Any) -> tuple[str, str, str]:
    """What a warm sandbox serves: the function's code and configuration. A change to either (an
    UpdateFunctionConfiguration, a stack update) makes the next invocation a cold start, as on Lambda."""
    configuration = json.dumps(
        [function.handler, function.timeout, function.memory_size, function.environment_vars], sort_keys=True
    )
    return function.function_name, function.code.get("S3Key", ""), configuration
