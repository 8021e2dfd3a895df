"""Payment tasks racing through a moto SERVER: duplicates and compensations at the same moment.

The server (tests/support/moto_server.py) serializes
requests at its edge (each request atomic, as in DynamoDB; moto's cancelled
transactions otherwise restore a stale copy of the table) while the threads'
requests interleave freely.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support.events import FakeLambdaContext
from tests.support.moto_server import SerializedMotoServer
from tests.support.tables import create_tables
from tests.support.wiring import Wired

PAYMENTS = "airline-local-payments"
EUR = {"amount": 5000, "currency": "EUR"}


@pytest.fixture
def server_tasks() -> Iterator[tuple[Any, Any]]:
    import boto3

    from handlers.payment import tasks
    from handlers.payment.dal import DynamoPaymentStore
    from handlers.payment.sandbox import SandboxProvider

    server = SerializedMotoServer()
    dynamodb = boto3.client("dynamodb", region_name="eu-west-1", endpoint_url=server.start())
    create_tables(dynamodb, only={"PaymentsTable", "PaymentOperationsTable"})
    # One client shared by the racing threads, as one warm function instance shares its own.
    store = DynamoPaymentStore(PAYMENTS, "airline-local-payment-operations", dynamodb)
    try:
        yield Wired(tasks, tasks.Adapters(provider=SandboxProvider(store))), dynamodb
    finally:
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
