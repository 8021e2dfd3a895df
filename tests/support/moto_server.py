"""A moto server for concurrency tests, serialized at its edge like DynamoDB's per-request atomicity.

In-process moto is not atomic, and even a threaded moto server is not: a cancelled
TransactWriteItems restores a copy of the whole table taken when it started, wiping
writes other threads committed meanwhile. This server handles one request at a time,
so each request is atomic (as in DynamoDB) while the racing threads' requests still
interleave freely: a read-modify-write in the code under test would still oversell.
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _serialized_server(port: int) -> Any:
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    class SerializedMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = DomainDispatcherApplication(create_backend_app)
            lock = threading.Lock()

            def one_at_a_time(environ: dict[str, Any], start_response: Any) -> Any:
                with lock:
                    return list(app(environ, start_response))

            self._server = make_server(
                self._ip_address, self._port, one_at_a_time, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    return SerializedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)


def reset(endpoint: str) -> None:
    """Empty every backend: all moto servers of one process share them."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")  # noqa: S310 (local server)
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        assert answer.status == 200


class SerializedMotoServer:
    """A serialized moto server on a free port, empty when started and when stopped."""

    def __init__(self, port: int = 0) -> None:
        self._server = _serialized_server(port)
        self.endpoint = ""

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        reset(self.endpoint)
        return self.endpoint

    def stop(self) -> None:
        reset(self.endpoint)
        self._server.stop()


@contextmanager
def serialized_moto_server(port: int = 0) -> Iterator[str]:
    """The server for the duration of a block; yields its endpoint."""
    server = SerializedMotoServer(port)
    endpoint = server.start()
    try:
        yield endpoint
    finally:
        server.stop()
