"""The embedded AWS: one loopback port serving moto plus the Lambda Invoke API.

A WSGI front routes `POST /2015-03-31/functions/<name>/invocations` to the local
runner (so boto3 calls between services and moto's Step Functions interpreter reach
the real handlers) and everything else to moto's app. DynamoDB requests run with
DynamoDB's own isolation (`dynamo_concurrency`: per-item atomicity, transaction conflicts,
no global lock); faults from `faults` are answered here, in each service's wire shape,
before moto sees the request.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

import requests

from localcloud import stepfunctions, xray
from localcloud.dynamo_concurrency import Answer, DynamoConcurrency, cancelled, patch_moto_transactions
from localcloud.faults import Faults, Injection, aws_error
from localcloud.moto_fixes import patch_stepfunctions_lambda_errors

CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/")
APP_ID = re.compile(r"(?:^| )app/(?P<name>[^ ]+)")
TARGET_SERVICES = {"DynamoDB_20120810": "dynamodb", "AWSStepFunctions": "states", "AmazonSQS": "sqs"}
CODEDEPLOY_TARGET = "CodeDeploy_20141006."
INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
MANAGE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)(?P<part>/configuration|/code)?/?$")
# (method, function, "" | "/configuration" | "/code", body) -> (status, JSON) or None (moto answers)
LambdaManager = Callable[[str, str, str, bytes], "tuple[int, dict[str, Any]] | None"]
MOTO_CONFIG = {"lambda": {"use_docker": False}, "stepfunctions": {"execute_state_machine": True}}


class EdgeError(RuntimeError):
    """The edge cannot start (busy port, already running)."""


@dataclass
class InvokeAnswer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


# (function name or ARN, payload, invocation type) -> answer
InvokeHandler = Callable[[str, bytes, str], InvokeAnswer]

_started_lock = threading.Lock()
_started_in_process = False


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind: TIME_WAIT is not busy
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class Edge:
    """moto (one server per process: its backends are process-global) behind a small WSGI front."""

    def __init__(self, port: int = 4566, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port
        self.invoke_handler: InvokeHandler | None = None
        self.access_check: Any = None  # localcloud.iam.AccessCheck: refuses what the caller's role does not allow
        self.cloudformation: Callable[[bytes], tuple[int, bytes]] | None = None  # localcloud.cloudformation
        self.lambda_manager: LambdaManager | None = None  # localcloud.lambda_api: the runner's functions
        self.faults = Faults()
        self.codedeploy: Any = None  # localcloud.codedeploy.CodeDeploy: serves CodeDeploy_20141006.*
        self.dynamodb = DynamoConcurrency()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _app(self) -> Callable[[dict[str, Any], Any], Iterable[bytes]]:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        moto_app = DomainDispatcherApplication(create_backend_app)

        def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            refusal = self.access_check.refusal(environ) if self.access_check is not None else None
            if refusal is not None:
                start_response(
                    f"{refusal.status} {_REASONS.get(refusal.status, 'Error')}", list(refusal.headers.items())
                )
                return [refusal.body]
            with xray.inbound(environ.get("HTTP_X_AMZN_TRACE_ID")):  # the caller's trace, for what moto does next
                return dispatch(environ, start_response)

        def dispatch(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            if self.codedeploy is not None and target.startswith(CODEDEPLOY_TARGET):  # the APIs moto lacks
                status, body = self.codedeploy.handle(target[len(CODEDEPLOY_TARGET) :], _read_body(environ))
                sent = [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(body)))]
                start_response(f"{status} {_REASONS.get(status, 'OK')}", sent)
                return [body]
            path = environ.get("PATH_INFO", "")
            scope = CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
            if scope and scope.group("service") == "cloudformation" and self.cloudformation is not None:
                status, body = self.cloudformation(_read_body(environ))  # our CloudFormation, not moto's
                return _respond(start_response, Answer(status, body, [("Content-Type", "text/xml")]))
            managed = MANAGE_PATH.match(path)
            if managed and self.lambda_manager is not None and environ.get("REQUEST_METHOD") in ("GET", "PUT"):
                method, name = environ["REQUEST_METHOD"], unquote(managed.group("name"))
                done = self.lambda_manager(method, name, managed.group("part") or "", _read_body(environ))
                if done is not None:  # the runner's function (else moto answers: ResourceNotFoundException)
                    return _respond(start_response, _management_answer(*done))
            match = INVOKE_PATH.match(path)
            if match and environ.get("REQUEST_METHOD") == "POST" and self.invoke_handler is not None:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                payload = environ["wsgi.input"].read(length) if length else b""
                kind = environ.get("HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse")
                answer = self.invoke_handler(unquote(match.group("name")), payload, kind)
                headers = {"Content-Type": "application/json", "Content-Length": str(len(answer.body))}
                headers.update(answer.headers)
                start_response(f"{answer.status} {_REASONS.get(answer.status, 'OK')}", list(headers.items()))
                return [answer.body]
            return self._aws(moto_app, environ, start_response)

        return app

    def _aws(self, moto_app: Any, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """An AWS API call: faults first, DynamoDB under its isolation rules, the rest straight to moto."""
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        prefix, _, operation = target.partition(".")
        service = TARGET_SERVICES.get(prefix)
        scope = CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        region = scope.group("region") if scope else "us-east-1"
        if service is None and scope is not None:
            service = scope.group("service")
        if service != "dynamodb" and not self.faults.rules():
            answered: Iterable[bytes] = moto_app(environ, start_response)
            return answered
        raw = _read_body(environ)
        json_protocol = bool(target)
        fields: dict[str, Any] = {}
        if json_protocol:
            try:
                fields = json.loads(raw or b"{}")
            except ValueError:
                fields = {}
        else:
            form = parse_qs(raw.decode("utf-8", "replace"))
            operation = (form.get("Action") or [""])[0]
            fields = {k: v[0] for k, v in form.items()}
        if service is not None:
            caller = APP_ID.search(environ.get("HTTP_USER_AGENT", ""))
            injection = self.faults.pick(
                service, operation, function=caller.group("name") if caller else None, resource=_resource(fields)
            )
            if injection is not None:
                if injection.latency_s:
                    time.sleep(injection.latency_s)
                else:
                    return _respond(start_response, self._fault_answer(service, operation, fields, injection))

        def call(body: bytes) -> Answer:
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                captured["status"], captured["headers"] = status, headers
                return lambda _data: None

            chunks = b"".join(moto_app(environ, capture))
            return Answer(int(captured["status"].split(" ", 1)[0]), chunks, list(captured["headers"]))

        if service == "dynamodb" and json_protocol and isinstance(fields, dict):
            answer = self.dynamodb.handle(operation, fields, region, call)
        else:
            answer = call(raw)
        return _respond(start_response, answer)

    def _fault_answer(self, service: str, operation: str, fields: dict[str, Any], injection: Injection) -> Answer:
        transactional = operation in ("TransactWriteItems", "TransactGetItems")
        if service == "dynamodb" and injection.code == "TransactionConflictException" and transactional:
            count = max(1, len(fields.get("TransactItems") or []))
            reasons = [{"Code": "TransactionConflict", "Message": injection.message}]
            return cancelled(reasons + [{"Code": "None"}] * (count - 1))
        status, headers, body = aws_error(service, injection, json_protocol=service in ("dynamodb", "states", "sqs"))
        return Answer(status, body, headers)

    def start(self) -> None:
        global _started_in_process
        with _started_lock:
            if _started_in_process:
                raise EdgeError("the local cloud is already running in this process (moto's state is per process)")
            if not port_is_free(self.host, self.port):
                raise EdgeError(
                    f"port {self.port} on {self.host} is busy: is a local cloud already running? "
                    "Stop it, or choose another port with --port"
                )
            from moto.moto_server.werkzeug_app import MotoRequestHandler
            from werkzeug.serving import make_server

            patch_moto_transactions()
            patch_stepfunctions_lambda_errors()
            stepfunctions.install(self.url)  # RedriveExecution, task credentials of the machine's role, clock

            self._server = make_server(
                self.host, self.port, self._app(), threaded=True, request_handler=MotoRequestHandler
            )
            _started_in_process = True
        # moto's Step Functions interpreter calls Lambda at http://localhost:$MOTO_PORT: that is us.
        os.environ["MOTO_PORT"] = str(self.port)
        self._thread = threading.Thread(target=self._server.serve_forever, name="localcloud-edge", daemon=True)
        self._thread.start()
        answer = requests.post(f"{self.url}/moto-api/config", json=MOTO_CONFIG, timeout=10)
        answer.raise_for_status()

    def stop(self) -> None:
        global _started_in_process
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            with _started_lock:
                _started_in_process = False


def _management_answer(status: int, document: dict[str, Any]) -> Answer:
    headers = [("Content-Type", "application/json")]
    if status >= 400:
        headers.append(("x-amzn-ErrorType", str(document.get("__type", ""))))
    return Answer(status, json.dumps(document).encode(), headers)


def _read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw: bytes = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(raw)
    return raw


def _resource(fields: dict[str, Any]) -> str | None:
    """What a call acts on, for rules with `resource`: table(s), topic, queue or state machine."""
    for name in ("TableName", "TopicArn", "TargetArn", "QueueUrl", "stateMachineArn"):
        if isinstance(fields.get(name), str):
            return str(fields[name])
    tables = [
        str(op.get("TableName"))
        for action in fields.get("TransactItems") or []
        if isinstance(action, dict)
        for op in action.values()
        if isinstance(op, dict)
    ]
    tables += list(fields.get("RequestItems") or {})
    return ",".join(tables) if tables else None


def _respond(start_response: Any, answer: Answer) -> Iterable[bytes]:
    headers = [(k, v) for k, v in answer.headers if k.lower() != "content-length"]
    headers.append(("Content-Length", str(len(answer.body))))
    start_response(f"{answer.status} {_REASONS.get(answer.status, 'Error')}", headers)
    return [answer.body]


def lambda_error(status: int, error_type: str, message: str) -> InvokeAnswer:
    body = json.dumps({"Type": "User", "message": message}).encode()
    return InvokeAnswer(status, body, {"x-amzn-ErrorType": error_type})


_REASONS = {
    200: "OK",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
