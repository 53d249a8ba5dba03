"""One cold start in a fresh interpreter, timed to the end of the first invocation; run by bench.py.

``python -I -S conveyor_tools/cold_start.py <plan.json>`` imports nothing but the standard library
before its timer starts, so everything a function loads (boto3 too) is timed. The plan says:

- ``path``: sys.path as Lambda sets it (task root, the layer, the runtime's boto3);
- ``mode``: ``record`` invokes the handler once, answering each AWS call from ``replies`` and
  ``objects`` (S3 GetObject bodies by key), and writes the calls it made to ``record_to``;
  ``handler`` invokes it once answering from ``calls`` (the recording); ``floor`` imports boto3,
  creates the same clients and makes the same calls with the same answers, and nothing else;
- ``handler``, ``event`` and ``context``: what Lambda would call.

Calls are answered in process through botocore's ``before-call`` event, the hook botocore's
Stubber uses, registered on boto3's default session: the request is built (parameters
validated and serialized, endpoint resolved) as for AWS, and neither signed nor sent. Both
timed modes pay for the same answers, so the ratio of the two compares what the function adds.
The last line printed is the elapsed wall and CPU seconds.
"""

from __future__ import annotations

import base64
import copy
import importlib
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

# conveyor/aws.py creates every client with this configuration; the floor's clients are the same.
CLIENT_CONFIG = {"retries": {"mode": "standard", "max_attempts": 5}}


def encoded(value: Any) -> Any:
    """``value`` with bytes as ``{"__bytes__": base64}`` so that it fits in JSON."""
    if isinstance(value, bytes):
        return {"__bytes__": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {key: encoded(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [encoded(item) for item in value]
    return value


def decoded(value: Any) -> Any:
    """The inverse of :func:`encoded`."""
    if isinstance(value, dict):
        if set(value) == {"__bytes__"}:
            return base64.b64decode(value["__bytes__"])
        return {key: decoded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decoded(item) for item in value]
    return value


class LambdaContext:
    """The context object Lambda passes to a handler."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.function_name: str = fields["function_name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn: str = fields["invoked_function_arn"]
        self.memory_limit_in_mb: int = fields["memory_limit_in_mb"]
        self.aws_request_id: str = fields["aws_request_id"]
        self.log_group_name: str = fields["log_group_name"]
        self.log_stream_name = "2026/01/01/[$LATEST]bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


class Answers:
    """Answers to the AWS calls of one run, in the order they are made, as botocore's Stubber gives them."""

    def __init__(self, calls: list[dict[str, Any]] | None, replies: dict[str, Any], objects: dict[str, bytes]) -> None:
        self.pending = list(calls) if calls is not None else None
        self.replies = replies
        self.objects = objects
        self.made: list[dict[str, Any]] = []

    def install(self, session: Any) -> None:
        """Answer every call of every client ``session`` creates from now on."""
        session.events.register("provide-client-params", self._remember)
        session.events.register("before-call", self._answer)

    def _remember(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        service, operation = model.service_model.service_name, model.name
        if self.pending is None:
            reply = self._canned(service, operation, params)
            params = copy.deepcopy(params)
            self.made.append({"service": service, "operation": operation, "params": params, "reply": reply})
            return
        if not self.pending:
            raise AssertionError(f"{service}.{operation} was not made when the calls were recorded")
        expected = self.pending.pop(0)
        if (expected["service"], expected["operation"]) != (service, operation):
            raise AssertionError(f"{service}.{operation} made where {expected['service']}.{expected['operation']} was")
        self.made.append(expected)

    def _canned(self, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if (service, operation) == ("s3", "GetObject"):
            return {"Body": self.objects[params["Key"]]}
        name = f"{service}.{operation}"
        if name not in self.replies:
            raise AssertionError(f"no reply for {name}: add one to the benchmark's replies")
        reply: dict[str, Any] = self.replies[name]
        return reply

    def _answer(self, **_: Any) -> tuple[Any, dict[str, Any]]:
        from botocore.awsrequest import AWSResponse  # noqa: PLC0415 (botocore loads inside the timer)
        from botocore.response import StreamingBody  # noqa: PLC0415

        reply = dict(self.made[-1]["reply"])
        if isinstance(reply.get("Body"), bytes):
            reply["ContentLength"] = len(reply["Body"])
            reply["Body"] = StreamingBody(io.BytesIO(reply["Body"]), len(reply["Body"]))
        reply["ResponseMetadata"] = {"RequestId": "bench", "HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}
        return AWSResponse("https://bench.invalid/", 200, {}, None), reply


def default_session(boto3: Any) -> Any:
    """boto3's default session, which ``boto3.client`` (and so conveyor/aws.py) creates clients from."""
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    return boto3.DEFAULT_SESSION


def invoke(plan: dict[str, Any], answers: Answers) -> Any:
    """Import the handler and invoke it once (the timed work of a function's cold start)."""
    import boto3  # noqa: PLC0415 (the handler would import it; it is timed on both sides)

    answers.install(default_session(boto3))
    module_name, _, attribute = plan["handler"].rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    return handler(plan["event"], LambdaContext(plan["context"]))


def floor(plan: dict[str, Any], answers: Answers) -> None:
    """Import boto3, create the function's clients and make its calls (the timed work of the floor)."""
    import boto3  # noqa: PLC0415 (what the floor times)
    from botocore import xform_name  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415

    answers.install(default_session(boto3))
    clients: dict[str, Any] = {}
    for call in plan["calls"]:
        service = call["service"]
        if service not in clients:
            clients[service] = boto3.client(service, config=Config(**CLIENT_CONFIG))
        getattr(clients[service], xform_name(call["operation"]))(**call["params"])


def main(plan_file: str) -> None:
    plan = json.loads(Path(plan_file).read_text(encoding="utf-8"))
    sys.path[:0] = plan["path"]
    calls = decoded(plan["calls"]) if plan["mode"] != "record" else None
    plan["calls"] = calls
    objects = {key: base64.b64decode(body) for key, body in plan.get("objects", {}).items()}
    answers = Answers(calls, plan.get("replies", {}), objects)
    start, start_cpu = time.perf_counter(), time.process_time()
    if plan["mode"] == "floor":
        floor(plan, answers)
    else:
        invoke(plan, answers)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    if answers.pending:
        raise AssertionError(f"calls recorded but not made: {answers.pending}")
    if plan["mode"] == "record":
        Path(plan["record_to"]).write_text(json.dumps(encoded(answers.made)), encoding="utf-8")
    print(elapsed, cpu)


if __name__ == "__main__":
    main(sys.argv[1])
