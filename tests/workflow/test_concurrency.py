"""Many bookings racing for few seats on the local cloud, with DynamoDB's own isolation (no serialized writes).

Concurrent seat transactions on one flight item are cancelled with `TransactionConflict`, as DynamoDB
cancels them; the data layer and the workflow retry the conflict, so it is never taken for a failure.
The 200-on-50 storm over HTTP, with and without faults, is tests/e2e/test_storm.py.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.workflow.conftest import PAYMENTS, Workflows

CUSTOMERS = 8


def run_race(workflows: Workflows, attempts: int, seats: int) -> dict[str, Any]:
    flight = workflows.add_flight(seats=seats, price=9900)
    customers = [f"racer-{i}" for i in range(CUSTOMERS)]
    for name in customers:
        workflows.customer(name)  # signed in before the race
    conflicts_before = workflows.stats()["_dynamodb"]["transactionConflicts"]
    started = time.perf_counter()

    def post(index: int) -> str:
        # as a real client: a 429/5xx (a throttled createBooking at the account's limit) is sent again
        # with the same Idempotency-Key
        key = f"race-{uuid.uuid4().hex}"
        for attempt in range(10):
            answer = workflows.post_booking(flight, "tok_visa", customer=customers[index % CUSTOMERS], key=key)
            if answer.status_code not in (429, 500, 502, 503, 504):
                break
            time.sleep(min(2.0, 0.1 * 2**attempt))
        assert answer.status_code == 202, answer.text
        booking_id: str = answer.json()["bookingId"]
        return booking_id

    with ThreadPoolExecutor(max_workers=16) as pool:
        booking_ids = list(pool.map(post, range(attempts)))
        finished = list(pool.map(lambda b: workflows.wait(workflows.execution_of(b), timeout=300), booking_ids))
    elapsed = time.perf_counter() - started

    mine = set(booking_ids)
    bookings = {b["bookingId"]: b for b in workflows.items_of("airline-local-bookings", mine)}
    payments = workflows.items_of(PAYMENTS, mine)
    confirmed = {b for b, item in bookings.items() if item["status"] == "CONFIRMED"}
    sold_out = {b for b, item in bookings.items() if item.get("cancelReason") == "SOLD_OUT"}
    captured_for = {p["bookingId"] for p in payments if p["status"] == "CAPTURED"}
    figures = {
        "attempts": attempts,
        "seats": seats,
        "confirmed": len(confirmed),
        "cancelled_sold_out": len(sold_out),
        "other_outcomes": sorted(
            f"{item['status']}:{item.get('cancelReason')}"
            for b, item in bookings.items()
            if b not in confirmed and b not in sold_out
        ),
        "executions_not_succeeded": sum(1 for f in finished if f["status"] != "SUCCEEDED"),
        "seats_available_end": workflows.seats_available(flight),
        "dangling_authorizations": sum(1 for p in payments if p["status"] == "AUTHORIZED"),
        "confirmed_without_capture": len(confirmed - captured_for),
        "captured_not_confirmed": len(captured_for - confirmed),
        "transaction_conflicts": workflows.stats()["_dynamodb"]["transactionConflicts"] - conflicts_before,
        "run_seconds": round(elapsed, 1),
    }
    print(f"\nbooking race figures: {figures}")
    return figures


@pytest.mark.slow  # ~45 s on a busy 2-core machine; the default run has the 200-on-50 storm (tests/e2e/test_storm.py)
def test_twenty_four_attempts_on_six_seats_confirm_exactly_six_through_real_transaction_conflicts(
    workflows: Workflows,
) -> None:
    figures = run_race(workflows, attempts=24, seats=6)

    assert figures["transaction_conflicts"] > 0, "no seat transaction conflicted: the race proved nothing"
    assert figures["executions_not_succeeded"] == 0
    assert figures["confirmed"] == 6
    assert figures["cancelled_sold_out"] == 18
    assert figures["other_outcomes"] == [], "a conflict was taken for a failure (SEAT_ERROR)"
    assert figures["seats_available_end"] == 0
    assert figures["dangling_authorizations"] == 0
    assert figures["confirmed_without_capture"] == 0
    assert figures["captured_not_confirmed"] == 0
