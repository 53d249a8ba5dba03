"""LocalCloud: deploy template.yaml into moto and run it, in-process, on one machine."""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import time
import zipfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from unittest import mock

import boto3
from moto import mock_aws
from moto.awslambda.models import LambdaFunction
from moto.cloudformation.models import Stack as CloudFormationStack
from moto.logs.models import logs_backends
from moto.stepfunctions.parser.api import ExecutionStatus
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from localcloud import resources
from localcloud.adapters import ALL as ALL_ADAPTERS
from localcloud.adapters import Adapter
from localcloud.clock import DEFAULT_SCALE, Clock, ScaledTime, scaled_modules
from localcloud.cloudtrail import LocalCloudTrail
from localcloud.compilation import CompilationFaults, Compilations
from localcloud.definitions import parsing_once, repeatable_names
from localcloud.delivery import AtLeastOnce, Deliveries
from localcloud.function_logs import FunctionLogs
from localcloud.greengrass import Fleet, FleetFaults, GreengrassV2Backend
from localcloud.hosting import EndpointFaults, Hosting
from localcloud.iam import ADMIN_ACCESS_KEY, Actions, Authority, enforcing
from localcloud.iam.deploy import unevaluable_conditions, unusable_log_group_keys
from localcloud.runtime import LambdaRuntime, new_session
from localcloud.template import CODE_BUCKET, LocalTemplate, translate
from localcloud.traffic import Traffic
from localcloud.training import TrainingFaults

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
DEFAULT_STACK_NAME = "conveyor-local"
DEFAULT_PARAMETERS = {"ProjectName": "conveyor", "Stage": "dev"}
ADVANCE_STEP = timedelta(seconds=10)
# How long closing waits for a stopped execution to leave the state it is in (a task mid-call).
STOP_TIMEOUT_SECONDS = 10.0
"""While traffic runs, ``advance`` runs the tickers (alarm evaluation...) at least this often."""


class LocalCloudError(Exception):
    """The local cloud cannot deploy or run what it was given."""


class LocalCloud:
    """The stack of template.yaml, deployed into an in-process emulation of AWS.

    Use it as a context manager::

        with LocalCloud.from_template("template.yaml") as cloud:
            cloud.client("lambda").invoke(FunctionName=cloud.outputs["HealthFunctionName"])
            cloud.run_until_idle()
    """

    def __init__(
        self,
        template: LocalTemplate,
        *,
        parameters: dict[str, str] | None = None,
        stack_name: str = DEFAULT_STACK_NAME,
        time_scale: float = DEFAULT_SCALE,
        adapters: Sequence[Adapter] = ALL_ADAPTERS,
        delivery: AtLeastOnce | None = None,
    ) -> None:
        self.template = template
        self.adapters = list(adapters)
        self.parameters = {**DEFAULT_PARAMETERS, **(parameters or {})}
        self.stack_name = stack_name
        self.region = REGION
        self.account_id = ACCOUNT_ID
        self.clock = Clock(time_scale)
        self.deliveries = Deliveries(delivery)
        """How events are delivered: once and in order (``delivery`` None), or at least once."""
        self.authority = Authority(ACCOUNT_ID, REGION)
        """Credentials issued in the local cloud and the decision on every request."""
        self.function_logs = FunctionLogs(self)
        """Handler output written to each function's log group, as its role (or lost, as on AWS)."""
        self.runtime = LambdaRuntime(dict(template.code), base_environment={}, credentials=self._function_credentials)
        self.outputs: dict[str, str] = {}
        self.physical_ids: dict[str, str] = {}
        self.training_faults = TrainingFaults()
        """Faults the next SageMaker training jobs suffer (tests set them)."""
        self.compilation_faults = CompilationFaults()
        """Faults the next SageMaker Neo compilation jobs suffer: failures, builds wrong on purpose."""
        self.compilation = Compilations(self)
        """SageMaker Neo compilation jobs on stack time (``compile_seconds``, ``stop_seconds``)."""
        self.endpoint_faults = EndpointFaults()
        """Faults SageMaker endpoints suffer: per-variant errors and latency, updates that roll back."""
        self.hosting = Hosting(self)
        """SageMaker real-time hosting: endpoints on stack time (``deploy_seconds``), the requests they
        served (``invocations``), the seed of their draws (``seed(n)``)."""
        self.traffic = Traffic(self)
        """Steady request streams to endpoints while stack time advances (``start``, ``stop``, ``log``)."""
        self.greengrass: GreengrassV2Backend | None = None
        """The emulated Greengrass v2 control plane (set by its adapter)."""
        self.fleet_faults = FleetFaults()
        """Faults simulated core devices suffer: scripts that fail, devices that never report."""
        self.fleet = Fleet(self)
        """Simulated Greengrass core devices that run what is deployed to them (``add``, ``device``)."""
        self.cloudtrail: LocalCloudTrail | None = None
        """CloudTrail's delivery of API calls to EventBridge (set by its adapter): ``logging()``,
        ``recent`` events, ``deliver(event)``."""
        self.before_advance: list[Callable[[], None]] = []
        """Called on every :meth:`advance`, before the clock moves (registered by adapters)."""
        self.undelivered: list[tuple[str, str, str]] = []
        """(source ARN, target ARN, why) of each delivery a service made and was refused."""
        self.tickers: list[Callable[[], None]] = []
        """Called on every :meth:`advance`, after the clock moved (registered by adapters)."""
        # Deliveries held back are late, not lost: they arrive before time moves on.
        self.before_advance.append(self.deliveries.settle)
        self._exit_stack = ExitStack()
        self._admin_clients: dict[str, Any] = {}

    @classmethod
    def from_template(
        cls,
        path: str | Path = "template.yaml",
        *,
        parameters: dict[str, str] | None = None,
        stack_name: str = DEFAULT_STACK_NAME,
        time_scale: float = DEFAULT_SCALE,
        adapters: Sequence[Adapter] = ALL_ADAPTERS,
        delivery: AtLeastOnce | None = None,
    ) -> Self:
        """Translate the SAM template at ``path``; entering the context deploys it.

        ``adapters`` defaults to all of them; tests leave one out to show the gap it fills.
        ``delivery`` None delivers every event once, in order; ``AtLeastOnce(seed=...)`` delivers
        as AWS may (:mod:`localcloud.delivery`).
        """
        merged = {**DEFAULT_PARAMETERS, **(parameters or {})}
        return cls(
            translate(Path(path), merged),
            parameters=merged,
            stack_name=stack_name,
            time_scale=time_scale,
            adapters=adapters,
            delivery=delivery,
        )

    def __enter__(self) -> Self:
        try:
            self._start()
            self.deploy()
        except BaseException:
            self._exit_stack.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._exit_stack.close()

    def _start(self) -> None:
        stack = self._exit_stack
        # Restored on exit. Real credentials or endpoints must never leak into the emulation.
        stack.enter_context(mock.patch.dict(os.environ))
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            os.environ.pop(name, None)
        os.environ.update(
            {
                "AWS_DEFAULT_REGION": self.region,
                "AWS_ACCESS_KEY_ID": ADMIN_ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": ADMIN_ACCESS_KEY,
                "MOTO_ACCOUNT_ID": ACCOUNT_ID,
            }
        )
        # Moto would replace the credentials above with its own; every key here is one the
        # local cloud issued, so that it knows who signs each request.
        config: Any = {"core": {"mock_credentials": False}, "stepfunctions": {"execute_state_machine": True}}
        stack.enter_context(mock_aws(config=config))
        # (moto leaves the default session unset, so that it starts afresh: this one only shares the models)
        boto3.DEFAULT_SESSION = new_session()
        # Not an adapter: no test can leave it out.
        stack.enter_context(enforcing(self.authority, Actions(self.account_id, self.region)))
        # Moto's ASL interpreter logs conditions it handles (an IsPresent on a missing path) as
        # errors; the execution history is where failures are read.
        interpreter_log = logging.getLogger("moto.stepfunctions.parser")
        stack.callback(interpreter_log.setLevel, interpreter_log.level)
        interpreter_log.setLevel(logging.CRITICAL)
        self.runtime._base_environment.update(os.environ)
        runtime = self.runtime
        clock = self.clock

        function_logs = self.function_logs

        def invoke_in_process(function: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
            payload, errored, logs = runtime.invoke(function, event)
            function_logs.write(function, logs)
            return payload, errored, logs

        def scaled_wait(wait: WaitFunction, env: Any, wait_seconds: int) -> None:
            if wait_seconds > 0:
                env.program_state_event.wait(clock.wall_seconds(wait_seconds))

        stack.enter_context(mock.patch.object(LambdaFunction, "_invoke_lambda", invoke_in_process))
        stack.enter_context(runtime.capturing_output())
        stack.enter_context(mock.patch.object(WaitFunction, "_wait_interval", scaled_wait))
        json_first = staticmethod(_parse_template_body)
        stack.enter_context(mock.patch.object(CloudFormationStack, "parse_template", json_first))
        stack.enter_context(parsing_once())
        for module in scaled_modules():
            stack.enter_context(mock.patch.object(module, "time", ScaledTime(clock)))
        for adapter in self.adapters:
            stack.enter_context(adapter(self))
        stack.enter_context(resources.registered())
        # Registered last, so it runs first on exit, while every service is still there
        stack.callback(self._stop_executions)

    def deploy(self) -> None:
        """Upload the staged code and create the stack from the translated template."""
        s3 = self.client("s3")
        s3.create_bucket(Bucket=CODE_BUCKET)
        for key, source in self.template.code.items():
            s3.put_object(Bucket=CODE_BUCKET, Key=key, Body=_zip_folder(source))
        unsupported = resources.unsupported_types(self.template.body)
        if unsupported:
            raise LocalCloudError(
                "the local cloud can neither deploy nor provision these resource types: " + ", ".join(unsupported)
            )
        unevaluable = unevaluable_conditions(self.template.body)
        if unevaluable:
            raise LocalCloudError("the local cloud cannot enforce these policies: " + "; ".join(unevaluable))
        cloudformation = self.client("cloudformation")
        # The same physical names in every deploy of a template: its state machines are parsed once.
        with repeatable_names():
            cloudformation.create_stack(
                StackName=self.stack_name,
                TemplateBody=json.dumps(self.template.body),
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in self.parameters.items()],
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            )
        description = cloudformation.describe_stacks(StackName=self.stack_name)["Stacks"][0]
        if description["StackStatus"] != "CREATE_COMPLETE":
            raise LocalCloudError(
                f"stack {self.stack_name}: {description['StackStatus']}: "
                f"{description.get('StackStatusReason', 'no reason given')}"
            )
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}
        self.physical_ids = {
            r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
            for r in cloudformation.describe_stack_resources(StackName=self.stack_name)["StackResources"]
            if "LogicalResourceId" in r  # moto also lists entries it did not create, without ids
        }
        refused = unusable_log_group_keys(self.authority, logs_backends[self.account_id][self.region].groups.values())
        if refused:
            raise LocalCloudError("CloudWatch Logs may not use the key of: " + "; ".join(refused))

    def client(
        self,
        service: str,
        *,
        principal: str | None = None,
        source_arn: str = "",
        assumed_by: str | None = None,
        external_id: str | None = None,
    ) -> Any:
        """A boto3 client for ``service`` in the local cloud.

        By default it acts as the administrator. ``principal`` makes it act as an IAM role (by
        ARN: a session of that role), an IAM user (by ARN), or an AWS service principal
        (``events.amazonaws.com``) acting for the stack's resource ``source_arn``, each under its
        own policies and the resource policies that name it. With ``assumed_by``, the role is
        assumed by that service, as the service does it: its trust policy must allow it.
        """
        if principal is None:
            # One per service (a client takes about 10 ms to create; botocore's are thread-safe),
            # with explicit keys: while a handler runs on another thread, os.environ holds its role's.
            if service not in self._admin_clients:
                admin = {"aws_access_key_id": ADMIN_ACCESS_KEY, "aws_secret_access_key": ADMIN_ACCESS_KEY}
                self._admin_clients[service] = boto3.client(service, region_name=self.region, **admin)
            return self._admin_clients[service]
        if assumed_by is not None:
            credentials = self.authority.assume_role(
                principal, service=assumed_by, source_arn=source_arn, external_id=external_id
            )
        elif principal.endswith(".amazonaws.com"):
            credentials = self.authority.service_principal(principal, source_arn)[1]
        elif ":user/" in principal:
            credentials = self.authority.user_credentials(principal)
        else:
            credentials = self.authority.role_session(principal)
        return boto3.client(service, region_name=self.region, **credentials.as_client_arguments())

    def _function_credentials(self, function: LambdaFunction) -> dict[str, str]:
        credentials = self.authority.assume_role(function.role, service="lambda.amazonaws.com")
        return {
            "AWS_ACCESS_KEY_ID": credentials.access_key_id,
            "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
            "AWS_SESSION_TOKEN": credentials.session_token or "",
        }

    def deploy_function(
        self,
        name: str,
        source: Path,
        *,
        handler: str = "app.handler",
        environment: dict[str, str] | None = None,
        policy: dict[str, Any] | None = None,
        timeout: int = 3,
    ) -> str:
        """Create a function outside the template (test fixtures), running ``source`` in-process.

        Its role holds ``policy``, or no permission at all.
        """
        key = f"extra/{name}.zip"
        self.runtime.add_code(key, source)
        self.client("s3").put_object(Bucket=CODE_BUCKET, Key=key, Body=_zip_folder(source))
        role = self._role(f"{name}-role", "lambda.amazonaws.com", policy)
        arn: str = self.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=role,
            Handler=handler,
            Code={"S3Bucket": CODE_BUCKET, "S3Key": key},
            Environment={"Variables": environment or {}},
            Timeout=timeout,
        )["FunctionArn"]
        return arn

    def run_state_machine(
        self,
        name: str,
        definition: dict[str, Any] | str,
        execution_input: dict[str, Any] | None = None,
        *,
        policy: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create a state machine, run one execution to its end, and return its description.

        Its role holds ``policy`` (by default, every action of the services tests use).
        """
        sfn = self.client("stepfunctions")
        body = definition if isinstance(definition, str) else json.dumps(definition)
        role = self._role(f"{name}-role", "states.amazonaws.com", policy or _FIXTURE_POLICY)
        machine = sfn.create_state_machine(name=name, definition=body, roleArn=role)["stateMachineArn"]
        execution = sfn.start_execution(
            stateMachineArn=machine, name=f"{name}-1", input=json.dumps(execution_input or {})
        )["executionArn"]
        self.run_until_idle()
        description: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        return description

    def _role(self, name: str, service: str, policy: dict[str, Any] | None) -> str:
        """A role that ``service`` may assume, holding ``policy`` (fixtures outside the template)."""
        iam = self.client("iam")
        trust = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        arn: str = iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]})
        )["Role"]["Arn"]
        if policy is not None:
            iam.put_role_policy(RoleName=name, PolicyName="fixture", PolicyDocument=json.dumps(policy))
        return arn

    def run_until_idle(self, timeout: float = 30.0, *, waiting: bool = True) -> None:
        """Block until no state machine execution is running and no delivery is held back
        (or raise after ``timeout`` seconds).

        With ``waiting`` False, an execution that only time or another service can move on counts
        as idle: one parked on a task token (a submitted ``.waitForTaskToken`` task), in a Wait
        state, or in a Retry's back-off, and unchanged since the previous look.
        """
        deadline = time.monotonic() + timeout
        seen: dict[str, int] = {}
        while True:
            running = [
                execution.execution_arn
                for execution in self._running_executions()
                if waiting or not self._parked(execution, seen)
            ]
            if not self.deliveries.release() and not running:
                return
            if time.monotonic() > deadline:
                raise LocalCloudError(f"still running after {timeout} s: {', '.join(running)}")
            time.sleep(0.01)

    def _running_executions(self) -> list[Any]:
        """Every RUNNING execution, read from the interpreter's backend (the one the Step Functions
        API serves). Through the API, each look took 20 ms or more (and 50 ms more per execution
        history read) against 10 ms of sleep between looks: the poll held the interpreter lock
        most of the time, away from the executions it waited for."""
        backend = stepfunctions_parser_backends[self.account_id][self.region]
        machines: list[Any] = list(backend.state_machines)
        # (An execution being started, read outside its StartExecution request, has no status yet.)
        return [
            execution
            for machine in machines
            for execution in list(machine.executions)
            if execution.exec_status in (None, ExecutionStatus.RUNNING)
        ]

    def _stop_executions(self) -> None:
        """Stop every execution still running and wait for each to leave its current state.

        Moto's backends belong to the process, and the next local cloud of a test run has resources
        of the same names: an execution left running (a canary baking when its test ended) would go
        on into that cloud, invoking its functions and publishing to its topic.
        """
        running = self._running_executions()
        workers = {id(execution.exec_worker): execution for execution in running if execution.exec_worker}
        threads = [
            thread
            for thread in threading.enumerate()
            if id(getattr(getattr(thread, "_target", None), "__self__", None)) in workers
        ]
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for thread in threads:
            worker = thread._target.__self__  # type: ignore[attr-defined]
            # A worker gets its environment once its thread runs: until then there is nothing to stop
            while worker.env is None and thread.is_alive() and time.monotonic() < deadline:
                time.sleep(0.001)
            if worker.env is not None:
                workers[id(worker)].stop(
                    stop_date=self.clock.now(), error="LocalCloudClosed", cause="the local cloud closed"
                )
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    @staticmethod
    def _parked(execution: Any, seen: dict[str, int]) -> bool:
        # A Retry that polls a service timed in stack time (an "in progress" error, tried again
        # after a compressed back-off) adds events at every try but enters no new state: it is
        # parked as much as a Wait is. (An execution whose worker has not started has no history.)
        environment = execution.exec_worker.env if execution.exec_worker is not None else None
        history = [] if environment is None else environment.event_manager.get_event_history()
        types = [str(getattr(event["type"], "value", event["type"])) for event in history]
        progress = sum(1 for kind in types if kind not in _RETRY_EVENTS)
        unchanged = seen.get(execution.execution_arn) == progress
        seen[execution.execution_arn] = progress
        return unchanged and bool(types) and types[-1] in _PARKED_EVENTS

    def advance(self, *, minutes: float = 0, seconds: float = 0, settle: bool = True) -> None:
        """Move stack time forward and run what falls due (schedules, alarm evaluation, traffic).

        While traffic runs, time moves in steps of at most :data:`ADVANCE_STEP` that also stop at
        each whole minute: each request is sent at its own moment and the tickers run after each
        step, so requests, their metrics, the alarms that read them (evaluated on the minute) and
        what the alarms set off interleave in time order. Otherwise it moves in one jump.

        Then it waits until the executions are idle (:meth:`run_until_idle`, ``waiting`` False);
        with ``settle`` False it returns at once (a served cloud's pump, which must not wait for a
        training job).
        """
        delta = timedelta(minutes=minutes, seconds=seconds)
        if delta < timedelta():
            raise ValueError(f"the clock only moves forward, got {delta}")
        end = self.clock.now() + delta
        step = ADVANCE_STEP if self.traffic.running else delta
        while True:
            for prepare in self.before_advance:
                prepare()
            now = self.clock.now()
            step_end = min(end, now + step, _next_minute(now) if self.traffic.running else end)
            self.traffic.run_until(step_end)
            self.clock.advance(max(step_end - self.clock.now(), timedelta()))
            for tick in self.tickers:
                tick()
            if self.clock.now() >= end:
                break
        if settle:
            self.run_until_idle(waiting=False)


# The last history event of an execution that waits for time or a callback: a submitted callback
# task, a Wait state, or a failed task waiting out its Retry's back-off.
_PARKED_EVENTS = {"TaskSubmitted", "WaitStateEntered", "TaskFailed"}
# The events one more try of a task adds: a Retry's attempts change nothing else.
_RETRY_EVENTS = {"TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskFailed"}


def _next_minute(moment: datetime) -> datetime:
    """The next whole minute after ``moment``: CloudWatch evaluates alarms on minute boundaries, so
    ``advance`` stops there, and what an alarm sets off happens at the alarm's own moment."""
    return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)


# What a test state machine's role may do unless the test says otherwise.
_FIXTURE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "lambda:*",
                "s3:*",
                "dynamodb:*",
                "sns:*",
                "sqs:*",
                "events:*",
                "states:*",
                "sagemaker:*",
                "greengrass:*",
                "iot:*",
                "kms:*",
            ],
            "Resource": "*",
        }
    ],
}


_parse_yaml_template_body = CloudFormationStack.parse_template


def _parse_template_body(template: str) -> dict[str, Any]:
    """A template body read as CloudFormation reads it: JSON as JSON, anything else as YAML.

    Moto reads every body with PyYAML's pure-Python loader first, even the JSON one the local
    cloud deploys: that took about a third of each deploy.
    """
    try:
        parsed: dict[str, Any] = json.loads(template)
    except ValueError:
        return _parse_yaml_template_body(template)
    return parsed


def _zip_folder(source: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(source).as_posix())
    return buffer.getvalue()
