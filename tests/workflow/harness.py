"""Run the packaged state machines on moto's Step Functions interpreter, tasks on the real handlers.

Pieces (all in this test process):
- a moto server (`ThreadedMotoServer`, free port) with Step Functions execution on and
  Docker-less Lambda; DynamoDB writes are serialized at its edge, because the local
  stack must give the per-item atomicity real DynamoDB gives (see toolchain.md);
- a Lambda Invoke endpoint (`POST /2015-03-31/functions/<name>/invocations`) that
  imports and calls the real handler named in the packaged templates, answering
  errors in Lambda's shape (`X-Amz-Function-Error: Unhandled`,
  `{"errorType","errorMessage","stackTrace"}`);
- moto's interpreter invokes Lambda through boto3 at `http://localhost:$MOTO_PORT`
  (moto/stepfunctions/parser/asl/utils/boto_client.py) when no in-process mock is
  active, so MOTO_PORT names the invoke endpoint; the handlers reach the moto server
  through AWS_ENDPOINT_URL.
The state machine definitions come from `localcloud.packaging.template("booking", "local")`
with their Fn::Sub resolved here to this account and region.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import random
import re
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote

import boto3
import requests
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from localcloud.packaging import resources_of_type, template
from tests.support.events import FakeLambdaContext
from tests.support.tables import create_tables

ACCOUNT = "123456789012"
REGION = "eu-west-1"
STAGE = "local"
TASK_STACKS = ("booking", "catalog", "payment")
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::URLSuffix": "amazonaws.com"}
_DYNAMODB_WRITES = {
    "DynamoDB_20120810.PutItem",
    "DynamoDB_20120810.UpdateItem",
    "DynamoDB_20120810.DeleteItem",
    "DynamoDB_20120810.TransactWriteItems",
    "DynamoDB_20120810.BatchWriteItem",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class AwsFault:
    """Answer the next `times` requests of `action` that mention `table` with an AWS error, as AWS does.

    `action` is the DynamoDB target (`TransactWriteItems`, `PutItem`, ...) or the SNS
    action (`Publish`). DynamoDB answers JSON `{"__type", "message"}` (plus per-item
    `CancellationReasons` for `TransactionCanceledException`); SNS answers its XML error.
    """

    action: str
    code: str
    table: str = ""
    times: int = 1
    status: int = 400
    reasons: tuple[str, ...] = ()

    def matches(self, action: str, body: bytes) -> bool:
        return self.times > 0 and action == self.action and self.table.encode() in body

    def response(self, service: str) -> tuple[int, list[tuple[str, str]], bytes]:
        if service in ("dynamodb", "stepfunctions"):
            namespace = "com.amazonaws.dynamodb.v20120810" if service == "dynamodb" else "com.amazonaws.states"
            payload: dict[str, Any] = {"__type": f"{namespace}#{self.code}", "message": "injected"}
            if self.reasons:
                payload["CancellationReasons"] = [{"Code": code} for code in self.reasons]
            return self.status, [("Content-Type", "application/x-amz-json-1.0")], json.dumps(payload).encode()
        xml = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{self.code}</Code><Message>injected</Message></Error>"
            "<RequestId>injected</RequestId></ErrorResponse>"
        )
        return self.status, [("Content-Type", "text/xml")], xml.encode()


@dataclass
class Chaos:
    """Fail a share (`rate`) of the handlers' AWS writes at random, under real AWS names, counted by name.

    Only writes (DynamoDB Put/Update/Delete/TransactWrite, SNS Publish, Step Functions
    StartExecution): the test's own reads of the world never meet a fault.
    """

    rate: float
    seed: int = 7
    injected: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    CODES: ClassVar[dict[str, tuple[str, ...]]] = {
        "dynamodb": ("ProvisionedThroughputExceededException", "ThrottlingException", "InternalServerError"),
        "query": ("Throttled", "KMSThrottling"),
        "stepfunctions": ("ThrottlingException",),
    }

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def roll(self, service: str) -> AwsFault | None:
        with self.lock:
            if self._random.random() >= self.rate:
                return None
            code = self._random.choice(self.CODES[service])
            self.injected[code] = self.injected.get(code, 0) + 1
        return AwsFault("", code, status=500 if code == "InternalServerError" else 400)


_CHAOS_ACTIONS = {
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "TransactWriteItems",
    "Publish",
    "StartExecution",
}


def _transaction_keys(body: bytes) -> list[str]:
    """The (table, key) of every item a TransactWriteItems request writes, in request order."""
    items = json.loads(body or b"{}").get("TransactItems", [])
    keys = []
    for item in items:
        ((_, operation),) = item.items()
        key = operation.get("Key") or {
            name: value for name, value in operation.get("Item", {}).items() if name in ("bookingId", "flightId")
        }
        keys.append(operation["TableName"] + json.dumps(key, sort_keys=True))
    return keys


class AtomicMotoServer(ThreadedMotoServer):
    """A moto server whose DynamoDB writes run one at a time (each item update is atomic).

    It also fails the way AWS fails, on demand: `faults` answers chosen requests with
    an AWS error; with `real_conflicts` on, a TransactWriteItems that touches an item
    another transaction is still writing (in flight or queued) is cancelled with reason
    `TransactionConflict`, as DynamoDB cancels it, instead of waiting its turn.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.faults: list[AwsFault] = []
        self.real_conflicts = False
        self.chaos: Chaos | None = None
        self.transaction_seconds = 0.03
        self.conflicts_answered = 0
        self._faults_lock = threading.Lock()
        self._in_flight: dict[str, int] = {}

    def _take_fault(self, action: str, body: bytes) -> AwsFault | None:
        with self._faults_lock:
            for fault in self.faults:
                if fault.matches(action, body):
                    fault.times -= 1
                    return fault
        return None

    def _claim(self, keys: list[str]) -> int | None:
        """Mark the keys in flight; the index of the first key another transaction holds instead."""
        with self._faults_lock:
            for index, key in enumerate(keys):
                if self._in_flight.get(key):
                    self.conflicts_answered += 1
                    return index
            for key in keys:
                self._in_flight[key] = self._in_flight.get(key, 0) + 1
        return None

    def _unclaim(self, keys: list[str]) -> None:
        with self._faults_lock:
            for key in keys:
                self._in_flight[key] -= 1

    def _server_entry(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

        app = DomainDispatcherApplication(create_backend_app)
        write_lock = threading.Lock()

        def answer(start_response: Any, status: int, headers: list[tuple[str, str]], body: bytes) -> list[bytes]:
            start_response(f"{status} Error", [*headers, ("Content-Length", str(len(body)))])
            return [body]

        def serialized(environ: dict[str, Any], start_response: Any) -> Any:
            target = environ.get("HTTP_X_AMZ_TARGET") or ""
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            if target.startswith("DynamoDB_20120810."):
                action, service = target.split(".", 1)[1], "dynamodb"
            else:
                form = parse_qs(body.decode(errors="replace")) if b"Action=" in body else {}
                action, service = (form.get("Action") or [""])[0], "query"
            if target.startswith("AWSStepFunctions."):
                action, service = target.split(".", 1)[1], "stepfunctions"
            fault = self._take_fault(action, body) if self.faults else None
            if fault is None and self.chaos is not None and action in _CHAOS_ACTIONS:
                fault = self.chaos.roll(service)
            if fault:
                return answer(start_response, *fault.response(service))
            if target not in _DYNAMODB_WRITES:
                return app(environ, start_response)
            keys = _transaction_keys(body) if self.real_conflicts and action == "TransactWriteItems" else []
            if keys:
                conflict_at = self._claim(keys)
                if conflict_at is not None:
                    reasons = tuple("TransactionConflict" if i == conflict_at else "None" for i in range(len(keys)))
                    return answer(
                        start_response,
                        *AwsFault(action, "TransactionCanceledException", reasons=reasons).response("dynamodb"),
                    )
            try:
                with write_lock:
                    answered = list(app(environ, start_response))
                if keys:
                    # A real transaction holds its items for its two phases (tens of ms):
                    # overlapping ones on the same item are cancelled, as DynamoDB does.
                    time.sleep(self.transaction_seconds)
                return answered
            finally:
                if keys:
                    self._unclaim(keys)

        self._server = make_server(self._ip_address, self._port, serialized, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


def resolve_intrinsics(value: Any) -> Any:
    """Resolve the intrinsics a packaged definition uses (Fn::Sub with pseudo parameters)."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            names = {**PSEUDO, **{k: resolve_intrinsics(v) for k, v in variables.items()}}

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                if name not in names:
                    raise KeyError(f"cannot resolve ${{{name}}} in a definition")
                return str(names[name])

            return re.sub(r"\$\{([^}!]+)\}", substitute, text)
        if key == "Ref" and arg in PSEUDO:
            return PSEUDO[arg]
    if isinstance(value, str):
        return value
    raise ValueError(f"unsupported intrinsic in a definition: {value!r}")


@dataclass(frozen=True)
class TaskFunction:
    name: str
    handler: str
    environment: dict[str, str]

    def load(self) -> Callable[[dict[str, Any], Any], Any]:
        module_path, attribute = self.handler.rsplit(".", 1)
        module = importlib.import_module(module_path.replace("/", "."))
        handler: Callable[[dict[str, Any], Any], Any] = getattr(module, attribute)
        return handler


def packaged_functions(stacks: tuple[str, ...] = TASK_STACKS) -> dict[str, TaskFunction]:
    """Function name -> handler and plain environment, from the packaged local templates."""
    found: dict[str, TaskFunction] = {}
    for stack in stacks:
        try:
            tpl = template(stack, STAGE)
        except (RuntimeError, FileNotFoundError):
            continue  # a stack that does not exist (yet) has no functions to call
        for resource in resources_of_type(tpl, "AWS::Lambda::Function").values():
            props = resource["Properties"]
            variables = props.get("Environment", {}).get("Variables", {})
            plain = {k: v for k, v in variables.items() if isinstance(v, str)}
            found[props["FunctionName"]] = TaskFunction(props["FunctionName"], props["Handler"], plain)
    return found


def state_machine_definitions(stack: str = "booking") -> dict[str, str]:
    """State machine name -> resolved ASL, from the packaged local template."""
    machines = resources_of_type(template(stack, STAGE), "AWS::StepFunctions::StateMachine")
    return {
        m["Properties"]["StateMachineName"]: resolve_intrinsics(m["Properties"]["DefinitionString"])
        for m in machines.values()
    }


def reset_handler_state() -> None:
    """Drop every SDK client and cached adapter the handler modules hold (they may point elsewhere)."""
    for name, module in list(sys.modules.items()):
        if not (name == "handlers" or name.startswith("handlers.")):
            continue
        for attribute, value in list(vars(module).items()):
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()
            elif attribute.startswith("_") and type(value).__module__.startswith("handlers."):
                setattr(module, attribute, None)


@dataclass
class Fault:
    """Make the next `times` invocations of a function crash after (or before) doing their work."""

    function: str
    times: int = 1
    after_work: bool = True
    error_type: str = "Lambda.Unknown"


# A function that timed out after doing its work; Lambda failing or throttling the invoke before it ran.
_LAMBDA_FAULTS = (
    ("Sandbox.Timedout", True),
    ("Lambda.ServiceException", False),
    ("Lambda.TooManyRequestsException", False),
)


@dataclass
class InvokeLog:
    calls: list[tuple[str, str]] = field(default_factory=list)  # (function, outcome)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, function: str, outcome: str) -> None:
        with self.lock:
            self.calls.append((function, outcome))

    def count(self, function: str, outcome: str | None = None) -> int:
        with self.lock:
            return sum(1 for f, o in self.calls if f.endswith(function) and (outcome is None or o == outcome))


class _BusyServer(ThreadingHTTPServer):
    request_queue_size = 512  # hundreds of executions invoke at once
    daemon_threads = True


class LambdaInvokeEndpoint:
    """The Lambda Invoke API for the packaged functions, calling the real handlers in this process."""

    PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")

    def __init__(self, functions: dict[str, TaskFunction]) -> None:
        self.functions = functions
        self.faults: list[Fault] = []
        # function name -> called with the event before the real handler runs (to change the world under it)
        self.before: dict[str, Callable[[dict[str, Any]], None]] = {}
        self.log = InvokeLog()
        self.chaos: Chaos | None = None  # with it, a share of invocations fails under a Lambda name
        self._faults_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    def _take_fault(self, function: str) -> Fault | None:
        if self.chaos is not None:
            with self.chaos.lock:
                roll = self.chaos._random.random()
                if roll < self.chaos.rate:
                    name, after_work = self.chaos._random.choice(_LAMBDA_FAULTS)
                    self.chaos.injected[name] = self.chaos.injected.get(name, 0) + 1
                    return Fault(function, times=0, after_work=after_work, error_type=name)
        with self._faults_lock:
            for fault in self.faults:
                if fault.function == function and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def invoke(self, raw_name: str, payload: bytes) -> tuple[bool, dict[str, Any] | list[Any] | str | None]:
        """(failed, body) of one invocation, as Lambda would answer it."""
        name = unquote(raw_name).split(":function:")[-1].split(":")[0]
        function = self.functions.get(name)
        if function is None:
            self.log.add(name, "ResourceNotFound")
            raise LookupError(name)
        fault = self._take_fault(name)
        if fault and not fault.after_work:
            self.log.add(name, fault.error_type)
            return True, {"errorType": fault.error_type, "errorMessage": "injected crash", "stackTrace": []}
        event = json.loads(payload or b"{}")
        hook = self.before.get(name)
        if hook:
            hook(event)
        try:
            result = function.load()(event, FakeLambdaContext(function_name=name))
        except Exception as exc:  # a Lambda answers any exception as a function error
            self.log.add(name, type(exc).__name__)
            return True, {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_exception(exc)[-5:],
            }
        if fault:
            self.log.add(name, fault.error_type)
            return True, {
                "errorType": fault.error_type,
                "errorMessage": "injected crash after the work",
                "stackTrace": [],
            }
        self.log.add(name, "ok")
        return False, result

    def start(self) -> None:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                match = endpoint.PATH.match(self.path.split("?")[0])
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not match:
                    self._answer(
                        404, {"Type": "User", "message": f"no route {self.path}"}, error="ResourceNotFoundException"
                    )
                    return
                try:
                    failed, result = endpoint.invoke(match.group("name"), body)
                except LookupError as exc:
                    self._answer(
                        404,
                        {"Type": "User", "message": f"Function not found: {exc}"},
                        error="ResourceNotFoundException",
                    )
                    return
                self._answer(200, result, function_error=failed)

            def _answer(
                self, status: int, payload: Any, *, function_error: bool = False, error: str | None = None
            ) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-Amz-Executed-Version", "$LATEST")
                if function_error:
                    self.send_header("X-Amz-Function-Error", "Unhandled")
                if error:
                    self.send_header("x-amzn-ErrorType", error)
                self.end_headers()
                self.wfile.write(data)

        self._server = _BusyServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()


@dataclass
class LocalWorkflowCloud:
    """The moto server, the invoke endpoint and the created state machines, ready for executions."""

    endpoint_url: str
    invoker: LambdaInvokeEndpoint
    state_machines: dict[str, str]  # name -> ARN
    topic_arn: str
    events_queue_url: str
    moto: AtomicMotoServer

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint_url)

    def arn(self, suffix: str) -> str:
        return next(arn for name, arn in self.state_machines.items() if name.endswith(suffix))

    def wait(self, execution_arn: str, timeout: float = 120.0) -> dict[str, Any]:
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still RUNNING after {timeout}s")
            time.sleep(0.05)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.client("stepfunctions").get_execution_history(
            executionArn=execution_arn, maxResults=1000
        )["events"]
        return events

    def published_events(self) -> list[dict[str, Any]]:
        """Every booking event published so far (drained from the test subscription)."""
        sqs = self.client("sqs")
        out: list[dict[str, Any]] = []
        while True:
            answer = sqs.receive_message(QueueUrl=self.events_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = answer.get("Messages", [])
            if not messages:
                return out
            for message in messages:
                envelope = json.loads(message["Body"])
                out.append(
                    {
                        "attributes": {k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()},
                        "event": json.loads(envelope["Message"]),
                    }
                )
                sqs.delete_message(QueueUrl=self.events_queue_url, ReceiptHandle=message["ReceiptHandle"])


@contextmanager
def local_workflow_cloud() -> Iterator[LocalWorkflowCloud]:
    """Start everything; restore the process environment afterwards."""
    saved_env = dict(os.environ)
    server = AtomicMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint_url = f"http://{host}:{port}"
    invoker = LambdaInvokeEndpoint(packaged_functions())
    invoker.start()
    try:
        # Backends are process-global: start from nothing (an earlier server's state lingers).
        requests.post(f"{endpoint_url}/moto-api/reset", timeout=10).raise_for_status()
        requests.post(
            f"{endpoint_url}/moto-api/config",
            json={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}},
            timeout=10,
        ).raise_for_status()
        for function in invoker.functions.values():
            os.environ.update(function.environment)
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": endpoint_url,
                "MOTO_PORT": str(invoker.port),  # where moto's interpreter sends Lambda invocations
                "POWERTOOLS_TRACE_DISABLED": "true",
                # The SDK gives up after 2 attempts here (Lambda's default is more), so an
                # injected AWS fault reaches the state machine's retriers in a few requests.
                "AWS_RETRY_MODE": "standard",
                "AWS_MAX_ATTEMPTS": "2",
                "POWERTOOLS_LOG_LEVEL": "WARNING",
            }
        )
        reset_handler_state()
        session = boto3.Session(region_name=REGION)
        dynamodb = session.client("dynamodb", endpoint_url=endpoint_url)
        create_tables(dynamodb, STAGE)
        sns = session.client("sns", endpoint_url=endpoint_url)
        sqs = session.client("sqs", endpoint_url=endpoint_url)
        topic_arn = sns.create_topic(Name=f"airline-{STAGE}-booking-events")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="booking-events-observer")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        sfn = session.client("stepfunctions", endpoint_url=endpoint_url)
        machines = {}
        for name, definition in state_machine_definitions().items():
            created = sfn.create_state_machine(
                name=name,
                definition=definition,
                roleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}",
                type="STANDARD",
            )
            machines[name] = created["stateMachineArn"]
        yield LocalWorkflowCloud(endpoint_url, invoker, machines, topic_arn, queue_url, server)
    finally:
        invoker.stop()
        server.stop()
        os.environ.clear()
        os.environ.update(saved_env)
        reset_handler_state()
