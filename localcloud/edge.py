"""The embedded AWS: one loopback port serving moto plus the Lambda Invoke API.

A WSGI front routes `POST /2015-03-31/functions/<name>/invocations` to the local
runner (so boto3 calls between services and moto's Step Functions interpreter reach
the real handlers) and everything else to moto's app. DynamoDB writes are serialized
with one lock: moto is not atomic under concurrency, and the project relies on
DynamoDB's per-item atomicity.
"""

from __future__ import annotations

import errno
import json
import os
import re
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import requests

from localcloud import xray

DYNAMODB_WRITES = frozenset(
    f"DynamoDB_20120810.{op}" for op in ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")
)
INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
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
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._write_lock = threading.Lock()

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
            path = environ.get("PATH_INFO", "")
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
            if environ.get("HTTP_X_AMZ_TARGET") in DYNAMODB_WRITES:
                with self._write_lock:
                    return list(moto_app(environ, start_response))
            answered: Iterable[bytes] = moto_app(environ, start_response)
            return answered

        return app

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


def lambda_error(status: int, error_type: str, message: str) -> InvokeAnswer:
    body = json.dumps({"Type": "User", "message": message}).encode()
    return InvokeAnswer(status, body, {"x-amzn-ErrorType": error_type})


_REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Error",
}
