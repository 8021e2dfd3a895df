"""Step Functions where moto's interpreter stops short of AWS: RedriveExecution, task credentials, a clock.

- **RedriveExecution** (moto 5.2 has none): as AWS documents it
  (https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html). Only a Standard
  execution that FAILED, TIMED_OUT or ABORTED can be redriven (else `ExecutionNotRedrivable`); it
  restarts from its unsuccessful state (the last state entered and never exited) with the input that
  state had, under the same execution ARN; retry counts start afresh; the history continues with an
  `ExecutionRedriven` event; `DescribeExecution` gives `redriveCount`, `redriveDate` and
  `redriveStatus`. The steps that succeeded before are not run again.
- **Task credentials**: a Lambda task is invoked with the credentials of the state machine's role
  (STS AssumeRole on it), as Step Functions does, so the edge checks `lambda:InvokeFunction` against
  that role's policies. moto's interpreter signs with fixed keys that would pass as the account.
- **Clock**: retry intervals (`IntervalSeconds`, backoff, jitter) are slept times `scale`; tests set
  a small scale through `PUT /_localcloud/clock` to run long retry ladders in seconds. Default 1.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import threading
import time
from typing import Any, cast

from moto.core.exceptions import AWSError

REDRIVABLE = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
MAX_REDRIVES = 1000


class ExecutionNotRedrivable(AWSError):
    """What Step Functions answers a redrive of an execution that cannot be redriven."""

    TYPE = "ExecutionNotRedrivable"
    STATUS = 400


class Clock:
    """How fast the interpreter's retry waits pass (1 = real time)."""

    def __init__(self) -> None:
        self.scale = 1.0

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds) * self.scale)

    def describe(self) -> dict[str, Any]:
        return {"stepfunctions_retry_scale": self.scale}


CLOCK = Clock()


class _ScaledTime:
    """Stands in for the `time` module inside moto's retrier: only `sleep` is scaled."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        CLOCK.sleep(seconds)


_EDGE = {"url": ""}  # the edge of the newest local cloud in this process: where task invokes go


def install(edge_url: str) -> None:
    """Patch moto's Step Functions once per process (idempotent); task invokes go to `edge_url` from now on."""
    import importlib

    _EDGE["url"] = edge_url
    retrier_decl: Any = importlib.import_module("moto.stepfunctions.parser.asl.component.common.retry.retrier_decl")
    if getattr(retrier_decl, "_localcloud", False):
        return
    retrier_decl.time = _ScaledTime()
    retrier_decl._localcloud = True
    _patch_task_credentials()
    _patch_responses()


# -- task credentials ------------------------------------------------------------------------------
_role_keys: dict[tuple[str, str], dict[str, str]] = {}  # (edge, role) -> issued keys
_role_lock = threading.Lock()


def role_credentials(edge_url: str, role_arn: str) -> dict[str, str]:
    """STS AssumeRole on `role_arn` at the edge (cached per role): what Step Functions calls Lambda with."""
    import boto3

    with _role_lock:
        if (edge_url, role_arn) not in _role_keys:
            sts = boto3.client(
                "sts",
                endpoint_url=edge_url,
                region_name="us-east-1",
                aws_access_key_id="localcloud",
                aws_secret_access_key="localcloud",  # noqa: S106 - the account's own keys on the local edge
            )
            issued = sts.assume_role(RoleArn=role_arn, RoleSessionName="states")["Credentials"]
            _role_keys[edge_url, role_arn] = {
                "aws_access_key_id": issued["AccessKeyId"],
                "aws_secret_access_key": issued["SecretAccessKey"],
                "aws_session_token": issued["SessionToken"],
            }
        return dict(_role_keys[edge_url, role_arn])


def _patch_task_credentials() -> None:
    import importlib

    import boto3
    from botocore.config import Config

    lambda_eval_utils: Any = importlib.import_module(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils"
    )
    original = lambda_eval_utils.boto_client_for

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        role_arn = getattr(state_credentials, "role_arn", None)
        if service != "lambda" or not isinstance(role_arn, str) or ":role/" not in role_arn:
            return original(region=region, service=service, state_credentials=state_credentials)
        edge_url = _EDGE["url"]
        return boto3.client(
            "lambda",
            region_name=region,
            endpoint_url=edge_url,
            config=Config(
                parameter_validation=False,
                retries={"max_attempts": 0, "total_max_attempts": 1},
                connect_timeout=99999,
                read_timeout=99999,
            ),
            **role_credentials(edge_url, role_arn),
        )

    lambda_eval_utils.boto_client_for = boto_client_for


# -- RedriveExecution -----------------------------------------------------------------------------
def unsuccessful_state(history: list[dict[str, Any]]) -> tuple[str, Any] | None:
    """(name, input) of the last top-level state entered and never exited: where the execution stopped."""
    open_states: dict[str, Any] = {}
    order: list[str] = []
    for event in history:
        entered = event.get("stateEnteredEventDetails")
        if entered:
            open_states[entered["name"]] = entered.get("input")
            order.append(entered["name"])
        exited = event.get("stateExitedEventDetails")
        if exited:
            open_states.pop(exited["name"], None)
    for name in reversed(order):
        if name in open_states:
            raw = open_states[name]
            return name, json.loads(raw) if isinstance(raw, str) else raw
    return None


def _redrive_worker_class() -> Any:
    from moto.stepfunctions.parser.api import HistoryEventType
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    class RedriveWorker(ExecutionWorker):
        """Runs the definition from the unsuccessful state, continuing the execution's own history."""

        def __init__(self, *args: Any, previous: Any, start_at: str, state_input: Any, redrive_count: int, **kw: Any):
            super().__init__(*args, **kw)
            self._previous = previous
            self._start_at = start_at
            self._state_input = state_input
            self._redrive_count = redrive_count

        def _get_evaluation_entrypoint(self) -> Any:
            from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

            definition = json.loads(self._evaluation_details.state_machine_details.definition)
            definition["StartAt"] = self._start_at
            return AmazonStateLanguageParser.parse(json.dumps(definition))[0]

        def _execution_logic(self) -> None:
            program = self._get_evaluation_entrypoint()
            env: Any = self._get_evaluation_environment()
            manager = self._previous.event_manager
            env.event_manager = manager  # one history: event ids go on from where the last run stopped
            last_id = len(manager.get_event_history())
            env.event_history_context = EventHistoryContext(previous_event_id=last_id)
            self.env = env
            manager.add_event(
                context=env.event_history_context,
                event_type=HistoryEventType.ExecutionRedriven,
                event_details=cast(Any, {"executionRedrivenEventDetails": {"redriveCount": self._redrive_count}}),
            )
            env.states.reset(self._state_input)
            program.eval(env)
            self._execution_communication.terminated()

    return RedriveWorker


def redrive(execution: Any) -> dt.datetime:
    """Redrive one stopped execution of moto's interpreter; raises moto's StepFunctions errors as AWS does."""
    from moto.stepfunctions.parser.api import ExecutionStatus, StateMachineType

    lock = _redrive_locks.setdefault(execution.exec_arn, threading.Lock())
    with lock:
        status = execution.exec_status.value if execution.exec_status is not None else "RUNNING"
        if execution.sm_type == StateMachineType.EXPRESS:
            raise ExecutionNotRedrivable("Express executions cannot be redriven")
        if status not in REDRIVABLE:
            raise ExecutionNotRedrivable(f"Execution is {status}: only FAILED, TIMED_OUT or ABORTED can be redriven")
        count = getattr(execution, "redrive_count", 0)
        if count >= MAX_REDRIVES:
            raise ExecutionNotRedrivable(f"Execution has been redriven {MAX_REDRIVES} times")
        previous = execution.exec_worker.env
        found = unsuccessful_state(previous.event_manager.get_event_history())
        if found is None:
            raise ExecutionNotRedrivable("Execution has no unsuccessful state to redrive from")
        start_at, state_input = found
        worker = _redrive_worker_class()(
            evaluation_details=copy.copy(execution.exec_worker._evaluation_details),
            exec_comm=execution._get_start_execution_worker_comm(),
            cloud_watch_logging_session=execution._cloud_watch_logging_session,
            activity_store=execution._activity_store,
            previous=previous,
            start_at=start_at,
            state_input=state_input,
            redrive_count=count + 1,
        )
        now = dt.datetime.now(dt.UTC)
        execution.redrive_count = count + 1
        execution.redrive_date = now
        execution.exec_worker = worker
        execution.exec_status = ExecutionStatus.RUNNING
        execution.stop_date = None
        execution.error = None
        execution.cause = None
        worker.start()
        return now


_redrive_locks: dict[str, threading.Lock] = {}


def _patch_responses() -> None:
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def redrive_execution(self: Any) -> Any:
        arn = self._get_param("executionArn")
        execution = self.stepfunction_backend.describe_execution(arn)  # ExecutionDoesNotExist, InvalidArn
        return ActionResult({"redriveDate": redrive(execution)})

    original_describe = StepFunctionResponse.describe_execution

    def describe_execution(self: Any) -> Any:
        answer: Any = original_describe(self)
        execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
        count = getattr(execution, "redrive_count", 0)
        answer.result["redriveCount"] = count
        if count:
            answer.result["redriveDate"] = execution.redrive_date
        if execution.status in REDRIVABLE:
            answer.result["redriveStatus"] = "REDRIVABLE" if count < MAX_REDRIVES else "NOT_REDRIVABLE"
        else:
            answer.result["redriveStatus"] = "NOT_REDRIVABLE"
            answer.result["redriveStatusReason"] = f"Execution is {execution.status}"
        return answer

    StepFunctionResponse.redrive_execution = redrive_execution  # type: ignore[attr-defined]
    StepFunctionResponse.describe_execution = describe_execution  # type: ignore[method-assign]
