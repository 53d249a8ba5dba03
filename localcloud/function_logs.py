"""Lambda writes each invocation's output to the function's log group, as the function's role.

On AWS the Lambda service sends what a handler prints to CloudWatch Logs with the execution
role's credentials: a role without ``logs:CreateLogStream`` / ``logs:PutLogEvents`` on its log
group (``LoggingConfig.LogGroup``, or ``/aws/lambda/<name>``) runs, but its logs are lost.
The same happens here: each invocation's output becomes log events in one stream per function.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from localcloud.interface import Cloud


class FunctionLogs:
    """Delivers handler output to CloudWatch Logs as each function's role."""

    def __init__(self, cloud: Cloud) -> None:
        self._cloud = cloud
        self._streams: dict[str, tuple[Any, str, str]] = {}
        self.lost: list[tuple[str, str]] = []
        """(function name, why) of each invocation whose logs could not be written."""

    def write(self, function: Any, output: str) -> None:
        """Write ``output`` of one invocation of ``function``; lose it, as Lambda does, if refused."""
        lines = [line for line in output.splitlines() if line.strip()]
        if not lines:
            return
        try:
            logs, group, stream = self._stream(function)
            now = int(self._cloud.clock.now().timestamp() * 1000)
            logs.put_log_events(
                logGroupName=group,
                logStreamName=stream,
                logEvents=[{"timestamp": now, "message": line} for line in lines],
            )
        except ClientError as error:
            self.lost.append((function.function_name, error.response["Error"].get("Message", "")))

    def _stream(self, function: Any) -> tuple[Any, str, str]:
        name = function.function_name
        if name not in self._streams:
            logs = self._cloud.client("logs", principal=function.role, assumed_by="lambda.amazonaws.com")
            group = (getattr(function, "logging_config", None) or {}).get("LogGroup") or f"/aws/lambda/{name}"
            stream = f"{self._cloud.clock.now():%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
            self._streams[name] = (logs, group, stream)
        return self._streams[name]
