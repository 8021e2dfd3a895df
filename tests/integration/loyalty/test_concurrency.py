"""Exactly once under real concurrency: racing deliveries through a moto SERVER (in-process moto is not atomic).

Lambda runs several consumers at once (maximumConcurrency 5) and SQS may hand the
same message, or a confirmation and its cancellation, to two of them together.
Threads here race the real logic and DynamoDB access through one server. The server
(tests/support/moto_server.py) serializes each
request (moto's cancelled transactions restore a whole-table snapshot, which would
wipe other threads' writes): requests stay atomic as in DynamoDB, while the
threads' read-then-write sequences interleave freely.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from handlers.loyalty.logic import Outcome
from handlers.loyalty.models import LedgerContention
from handlers.shared.events import BookingEvent
from tests.integration.loyalty.booking_events import CANCELLED, CONFIRMED, booking_event
from tests.integration.loyalty.conftest import LOYALTY_TABLES, ledger_entry, table_name, total_of
from tests.support.moto_server import SerializedMotoServer
from tests.support.tables import create_tables

THREADS = 16
MAX_DELIVERIES = 25  # SQS would redeliver a contended message; the DLQ would take it after maxReceiveCount


@pytest.fixture
def racing() -> Iterator[tuple[Any, Any]]:
    import boto3

    from handlers.loyalty.dal import DynamoLoyaltyStore

    server = SerializedMotoServer()
    dynamodb = boto3.client("dynamodb", region_name="eu-west-1", endpoint_url=server.start())
    create_tables(dynamodb, only=set(LOYALTY_TABLES))
    # One shared, thread-safe client, as one warm consumer instance has.
    store = DynamoLoyaltyStore(table_name("LoyaltyLedgerTable"), table_name("LoyaltyTotalsTable"), dynamodb)
    try:
        yield store, dynamodb
    finally:
        server.stop()


def deliver_until_done(store: Any, event: BookingEvent) -> Outcome:
    """One delivery as the consumer makes it, redelivered (as SQS would) while it reports contention."""
    from handlers.loyalty import logic

    for _ in range(MAX_DELIVERIES):
        try:
            return logic.apply_event(store, event)[0]
        except LedgerContention:
            continue
    raise AssertionError(f"{event.eventType} of {event.bookingId} never got through")


def test_the_same_confirmation_racing_on_every_consumer_counts_once(racing: tuple[Any, Any]) -> None:
    store, dynamodb = racing
    event = booking_event(CONFIRMED, amount=12050)

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = Counter(pool.map(lambda _: deliver_until_done(store, event), range(THREADS * 2)))

    assert outcomes == {Outcome.CREDITED: 1, Outcome.DUPLICATE: THREADS * 2 - 1}
    assert total_of(dynamodb, "customer-1") == 120


def test_confirmations_and_cancellations_racing_in_any_order_net_exactly_what_was_not_cancelled(
    racing: tuple[Any, Any],
) -> None:
    store, dynamodb = racing
    kept = [booking_event(CONFIRMED, booking=f"kept-{n}", amount=10_000) for n in range(20)]
    cancelled = [
        booking_event(kind, booking=f"gone-{n}", amount=10_000) for n in range(20) for kind in (CONFIRMED, CANCELLED)
    ]
    # every event delivered twice, all shuffled: cancellations often overtake their confirmation
    deliveries = (kept + cancelled) * 2
    random.Random(7).shuffle(deliveries)

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = Counter(pool.map(lambda event: deliver_until_done(store, event), deliveries))

    assert total_of(dynamodb, "customer-1") == 20 * 100
    statuses = Counter(ledger_entry(dynamodb, f"gone-{n}")["status"] for n in range(20))  # type: ignore[index]
    assert set(statuses) <= {"REVOKED", "CANCELLED_UNCONFIRMED"}
    assert outcomes[Outcome.REVOKED] == statuses["REVOKED"]
    assert outcomes[Outcome.TOMBSTONED] == statuses["CANCELLED_UNCONFIRMED"]
    assert outcomes[Outcome.CREDITED] == 20 + statuses["REVOKED"]
    print(json.dumps({str(k): v for k, v in sorted(outcomes.items())}))  # which orders the race produced
