"""Payment tasks racing through a moto SERVER: duplicates and compensations at the same moment.

As in tests/integration/catalog/test_seats_concurrency.py, the server serializes
requests at its edge (each request atomic, as in DynamoDB; moto's cancelled
transactions otherwise restore a stale copy of the table) while the threads'
requests interleave freely.
"""

from __future__ import annotations

import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support.events import FakeLambdaContext
from tests.support.tables import create_tables

PAYMENTS = "airline-local-payments"
EUR = {"amount": 5000, "currency": "EUR"}


def _serialized_server(port: int = 0) -> Any:
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    class _Serialized(ThreadedMotoServer):
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

    return _Serialized(ip_address="127.0.0.1", port=port, verbose=False)


def _reset(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 (local test server)
        assert answer.status == 200


@pytest.fixture
def server_tasks(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    import boto3

    from handlers.payment import tasks
    from handlers.payment.config import load_config
    from handlers.shared import aws as shared_aws

    server = _serialized_server()
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    _reset(endpoint)  # every moto server in a process shares one backend
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("PAYMENTS_TABLE_NAME", PAYMENTS)
    monkeypatch.setenv("PAYMENT_OPERATIONS_TABLE_NAME", "airline-local-payment-operations")
    shared_aws.client.cache_clear()
    load_config.cache_clear()
    tasks._provider = None
    dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
    create_tables(dynamodb, only={"PaymentsTable", "PaymentOperationsTable"})
    shared_aws.client("dynamodb")  # built before the threads race
    try:
        yield tasks, dynamodb
    finally:
        tasks._provider = None
        shared_aws.client.cache_clear()
        _reset(endpoint)
        server.stop()


def outcome(handler: Any, event: dict[str, Any]) -> tuple[str, str]:
    try:
        answer = handler(event, FakeLambdaContext())
    except Exception as exc:
        return ("error", type(exc).__name__)
    return ("ok", f"{answer['paymentId']}:{answer['status']}:{answer.get('amount')}")


def test_twenty_simultaneous_authorizations_of_one_booking_make_one_payment(server_tasks: tuple[Any, Any]) -> None:
    tasks, dynamodb = server_tasks
    event = {"bookingId": "b-1", "customerId": "c-1", "paymentToken": "tok_visa", "amount": EUR}

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = Counter(pool.map(lambda _: outcome(tasks.authorize_handler, event), range(20)))

    assert len(answers) == 1  # every caller got the same answer
    ((kind, _),) = answers
    assert kind == "ok"
    assert dynamodb.scan(TableName=PAYMENTS, Select="COUNT")["Count"] == 1


def test_a_capture_racing_a_void_leaves_exactly_one_of_them_done(server_tasks: tuple[Any, Any]) -> None:
    tasks, dynamodb = server_tasks
    for round_ in range(8):
        booking = f"b-{round_}"
        authorized = tasks.authorize_handler(
            {"bookingId": booking, "customerId": "c-1", "paymentToken": "tok_visa", "amount": EUR}, FakeLambdaContext()
        )
        reference = {"bookingId": booking, "paymentId": authorized["paymentId"]}
        handlers = [tasks.capture_handler, tasks.void_handler] * 3

        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(outcome, handlers, [reference] * len(handlers)))

        item = dynamodb.get_item(TableName=PAYMENTS, Key={"paymentId": {"S": authorized["paymentId"]}})["Item"]
        final = item["status"]["S"]
        assert final in ("CAPTURED", "VOIDED")
        won = {a[1].split(":")[1] for a in answers if a[0] == "ok"}
        assert won == {final}, answers  # nobody was told the other story
        losers = {a[1] for a in answers if a[0] == "error"}
        assert losers <= {"PaymentAlreadyCaptured" if final == "CAPTURED" else "PaymentCaptureFailed"}
