"""Tasks racing on the local cloud: the deployed functions, each in its own workers, DynamoDB's own isolation.

Invocations go through the Lambda Invoke API on the edge, many at once (up to the account's
concurrency, beyond which Lambda throttles and the SDK retries, as a caller on AWS would). Nothing is
serialized: concurrent transactions on one item are cancelled with `TransactionConflict` as DynamoDB
cancels them, and the callers retry what the workflows retry (their shared transient list:
`WriteConflict` for a seat transaction that outlasted its own attempts, `TransactionConflictException`
for a write on an item a transaction holds, ...).
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
import yaml
from botocore.config import Config

from tests.e2e.conftest import ROOT, RunningCloud
from tests.integration.loyalty.booking_events import CANCELLED, CONFIRMED, booking_event, record_of

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud")]

FLIGHTS = "airline-local-flights"
RESERVATIONS = "airline-local-seat-reservations"
PAYMENTS = "airline-local-payments"
RESERVE, RELEASE = "airline-catalog-local-reserveSeat", "airline-catalog-local-releaseSeat"
AUTHORIZE, CAPTURE, VOID = (f"airline-payment-local-{n}Payment" for n in ("authorize", "capture", "void"))
CREDIT = "airline-loyalty-local-creditPoints"
# what the workflows retry (their shared list), so what a caller here runs again
RETRIED = set(yaml.safe_load((ROOT / "services/booking/workflows/retry.yml").read_text())["transient"])
EUR = {"amount": 5000, "currency": "EUR"}


class Functions:
    def __init__(self, cloud: RunningCloud) -> None:
        # a pool as wide as the race; throttles (the account's limit) are retried by the SDK
        self.client = boto3.client(
            "lambda",
            endpoint_url=cloud.edge_url,
            region_name="eu-west-1",
            aws_access_key_id="e2e",
            aws_secret_access_key="e2e",  # noqa: S106 - the local edge
            config=Config(max_pool_connections=64, retries={"mode": "standard", "max_attempts": 10}),
        )

    def call(self, function: str, event: dict[str, Any]) -> tuple[str, Any]:
        """("ok", answer) or ("error", errorType); a transient error is retried, as the workflow retries it."""
        for _ in range(20):
            answer = self.client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
            payload = json.loads(answer["Payload"].read() or b"null")
            if "FunctionError" not in answer:
                return "ok", payload
            if payload.get("errorType") not in RETRIED:
                return "error", payload.get("errorType")
        raise AssertionError(f"{function} stayed busy")


@pytest.fixture(scope="module")
def functions(cloud: RunningCloud) -> Functions:
    return Functions(cloud)


def add_flight(cloud: RunningCloud, capacity: int) -> str:
    return cloud.add_flight("RC1", seats=capacity, price=100, currency="EUR", days_ahead=60, admin="race-admin")


def flight_item(cloud: RunningCloud, flight: str) -> dict[str, Any]:
    item: dict[str, Any] = cloud.client("dynamodb").get_item(
        TableName=FLIGHTS, Key={"flightId": {"S": flight}}, ConsistentRead=True
    )["Item"]
    return item


def held_on(cloud: RunningCloud, flight: str) -> int:
    pages = cloud.client("dynamodb").get_paginator("scan").paginate(TableName=RESERVATIONS, ConsistentRead=True)
    return sum(
        1
        for page in pages
        for r in page["Items"]
        if r.get("flightId", {}).get("S") == flight and r["status"]["S"] == "HELD"
    )


def reserve(functions: Functions, booking: str, flight: str) -> str:
    kind, answer = functions.call(RESERVE, {"bookingId": booking, "flightId": flight})
    return "reserved" if kind == "ok" else str(answer)


def test_forty_reservations_racing_for_twelve_seats_reserve_exactly_twelve(
    cloud: RunningCloud, functions: Functions
) -> None:
    flight = add_flight(cloud, 12)

    with ThreadPoolExecutor(max_workers=24) as pool:
        outcomes = Counter(pool.map(lambda n: reserve(functions, f"booking-{flight}-{n}", flight), range(40)))

    assert outcomes == {"reserved": 12, "SoldOut": 28}
    item = flight_item(cloud, flight)
    assert int(item["seatsAvailable"]["N"]) == 0
    assert "searchKey" not in item
    assert held_on(cloud, flight) == 12


def test_concurrent_replays_of_one_booking_take_one_seat(cloud: RunningCloud, functions: Functions) -> None:
    flight = add_flight(cloud, 5)

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = Counter(pool.map(lambda _: reserve(functions, f"booking-{flight}", flight), range(12)))

    assert outcomes == {"reserved": 12}
    assert int(flight_item(cloud, flight)["seatsAvailable"]["N"]) == 4


@pytest.mark.slow  # suite time: `pytest -m slow` runs it (11-18 s on a busy 2-core machine)
def test_racing_reserves_and_releases_keep_the_counter_within_capacity(
    cloud: RunningCloud, functions: Functions
) -> None:
    flight = add_flight(cloud, 10)
    with ThreadPoolExecutor(max_workers=10) as pool:
        assert set(pool.map(lambda n: reserve(functions, f"held-{flight}-{n}", flight), range(10))) == {"reserved"}

    def work(n: int) -> str:
        if n % 2:
            for _ in range(2):  # a release retried: idempotent
                released = functions.call(RELEASE, {"bookingId": f"held-{flight}-{n // 2}", "flightId": flight})
                assert released[0] == "ok", released
            return "released"
        return reserve(functions, f"new-{flight}-{n}", flight)

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = Counter(pool.map(work, range(20)))

    item = flight_item(cloud, flight)
    left = int(item["seatsAvailable"]["N"])
    assert 0 <= left <= 10
    assert held_on(cloud, flight) + left == 10  # every seat is either free or held by exactly one booking
    assert outcomes["released"] == 10
    assert ("searchKey" in item) == (left > 0)


def test_twelve_simultaneous_authorizations_of_one_booking_make_one_payment(
    cloud: RunningCloud, functions: Functions
) -> None:
    booking = f"b-{uuid.uuid4().hex[:10]}"
    event = {"bookingId": booking, "customerId": "c-1", "paymentToken": "tok_visa", "amount": EUR}

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda _: functions.call(AUTHORIZE, event), range(12)))

    assert {kind for kind, _ in answers} == {"ok"}
    assert len({json.dumps(answer, sort_keys=True) for _, answer in answers}) == 1  # every caller, the same answer
    payments = cloud.client("dynamodb").scan(
        TableName=PAYMENTS,
        ConsistentRead=True,
        FilterExpression="bookingId = :b",
        ExpressionAttributeValues={":b": {"S": booking}},
    )["Items"]
    assert len(payments) == 1


@pytest.mark.slow  # suite time: `pytest -m slow` runs it (11-18 s on a busy 2-core machine)
def test_a_capture_racing_a_void_leaves_exactly_one_of_them_done(cloud: RunningCloud, functions: Functions) -> None:
    for _ in range(4):
        booking = f"b-{uuid.uuid4().hex[:10]}"
        kind, authorized = functions.call(
            AUTHORIZE, {"bookingId": booking, "customerId": "c-1", "paymentToken": "tok_visa", "amount": EUR}
        )
        assert kind == "ok", authorized
        reference = {"bookingId": booking, "paymentId": authorized["paymentId"]}

        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(functions.call, [CAPTURE, VOID] * 3, [reference] * 6))

        item = cloud.client("dynamodb").get_item(
            TableName=PAYMENTS, Key={"paymentId": {"S": authorized["paymentId"]}}, ConsistentRead=True
        )["Item"]
        final = item["status"]["S"]
        assert final in ("CAPTURED", "VOIDED")
        won = {answer["status"] for kind, answer in answers if kind == "ok"}
        assert won == {final}, answers  # nobody was told the other story
        losers = {answer for kind, answer in answers if kind == "error"}
        assert losers <= {"PaymentAlreadyCaptured" if final == "CAPTURED" else "PaymentCaptureFailed"}


def deliver_until_done(functions: Functions, record: dict[str, Any]) -> None:
    """One SQS delivery to the consumer, redelivered (as SQS would) while it reports the record failed."""
    for _ in range(25):
        kind, answer = functions.call(CREDIT, {"Records": [record]})
        if kind == "ok" and not answer.get("batchItemFailures"):
            return
    raise AssertionError(f"{record['messageId']} never got through")


def points_of(cloud: RunningCloud, customer: str) -> int:
    item = cloud.client("dynamodb").get_item(
        TableName="airline-local-loyalty-totals", Key={"customerId": {"S": customer}}, ConsistentRead=True
    )
    return int(item["Item"]["points"]["N"]) if "Item" in item else 0


@pytest.mark.slow  # suite time: `pytest -m slow` runs it (11-18 s on a busy 2-core machine)
def test_confirmations_and_cancellations_racing_on_every_consumer_net_exactly_what_was_not_cancelled(
    cloud: RunningCloud, functions: Functions
) -> None:
    customer = f"racer-{uuid.uuid4().hex[:8]}"
    kept = [
        booking_event(CONFIRMED, booking=f"{customer}-kept-{n}", customer=customer, amount=10_000) for n in range(5)
    ]
    gone = [
        booking_event(kind, booking=f"{customer}-gone-{n}", customer=customer, amount=10_000)
        for n in range(5)
        for kind in (CONFIRMED, CANCELLED)
    ]
    # every event delivered twice, all shuffled: cancellations often overtake their confirmation
    deliveries = [record_of(e) for e in (kept + gone) * 2]
    random.Random(7).shuffle(deliveries)

    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(lambda r: deliver_until_done(functions, r), deliveries))

    assert points_of(cloud, customer) == 5 * 100
    ledger = cloud.client("dynamodb")
    statuses = Counter(
        ledger.get_item(
            TableName="airline-local-loyalty-ledger",
            Key={"bookingId": {"S": f"{customer}-gone-{n}"}},
            ConsistentRead=True,
        )["Item"]["status"]["S"]
        for n in range(5)
    )
    assert set(statuses) <= {"REVOKED", "CANCELLED_UNCONFIRMED"}
