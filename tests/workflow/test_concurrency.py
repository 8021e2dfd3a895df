"""Many bookings racing for few seats, through the API, the workflow and the real task handlers."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.workflow.conftest import add_flight, execution_of, post_booking, scan, seats_available
from tests.workflow.harness import LocalWorkflowCloud

_api_lock = threading.Lock()

# One worker runs every workflow test: they share a moto server per module.
pytestmark = pytest.mark.xdist_group("workflow")


def _post(flight: str, index: int) -> str:
    # One Lambda environment serves one request at a time (the resolver holds the
    # current event); the race that matters is between the executions, which run at once.
    with _api_lock:
        answer = post_booking(flight, "tok_visa", customer=f"racer-{index:04d}", key=f"race-{flight}-{index:06d}")
    assert answer["statusCode"] == 202, answer
    booking_id: str = answer["json"]["bookingId"]
    return booking_id


def run_race(cloud: LocalWorkflowCloud, attempts: int, seats: int) -> dict[str, Any]:
    flight = add_flight(cloud, seats=seats, price=9900)
    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append(seats_available(cloud, flight))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    started = time.perf_counter()
    sampler.start()
    with ThreadPoolExecutor(max_workers=32) as pool:
        booking_ids = list(pool.map(lambda i: _post(flight, i), range(attempts)))
        finished = list(pool.map(lambda b: cloud.wait(execution_of(cloud, b), timeout=600), booking_ids))
    stop.set()
    sampler.join()
    elapsed = time.perf_counter() - started

    mine = set(booking_ids)
    bookings = {
        item["bookingId"]["S"]: item for item in scan(cloud, "airline-local-bookings") if item["bookingId"]["S"] in mine
    }
    payments = [p for p in scan(cloud, "airline-local-payments") if p["bookingId"]["S"] in mine]
    confirmed = [b for b in bookings.values() if b["status"]["S"] == "CONFIRMED"]
    sold_out = [
        b for b in bookings.values() if b["status"]["S"] == "CANCELLED" and b["cancelReason"]["S"] == "SOLD_OUT"
    ]
    captured_for = {p["bookingId"]["S"] for p in payments if p["status"]["S"] == "CAPTURED"}
    figures = {
        "attempts": attempts,
        "seats": seats,
        "confirmed": len(confirmed),
        "cancelled_sold_out": len(sold_out),
        "other_outcomes": len(bookings) - len(confirmed) - len(sold_out),
        "executions_not_succeeded": sum(1 for f in finished if f["status"] != "SUCCEEDED"),
        "seats_available_end": seats_available(cloud, flight),
        "seats_available_min_sampled": min([*samples, seats_available(cloud, flight)]),
        "samples": len(samples),
        "oversold": max(0, len(confirmed) - seats),
        "dangling_authorizations": sum(1 for p in payments if p["status"]["S"] == "AUTHORIZED"),
        "payments_without_booking": sum(1 for p in payments if p["bookingId"]["S"] not in bookings),
        "confirmed_without_capture": sum(1 for b in confirmed if b["bookingId"]["S"] not in captured_for),
        "captured_not_confirmed": len(captured_for - {b["bookingId"]["S"] for b in confirmed}),
        "run_seconds": round(elapsed, 1),
    }
    print(f"\nbooking race figures: {figures}")
    return figures


def assert_no_overbooking(figures: dict[str, Any]) -> None:
    attempts, seats = figures["attempts"], figures["seats"]
    assert figures["executions_not_succeeded"] == 0
    assert figures["confirmed"] == seats
    assert figures["cancelled_sold_out"] == attempts - seats
    assert figures["other_outcomes"] == 0
    assert figures["seats_available_end"] == 0
    assert figures["seats_available_min_sampled"] >= 0
    assert figures["oversold"] == 0
    assert figures["dangling_authorizations"] == 0
    assert figures["payments_without_booking"] == 0
    assert figures["confirmed_without_capture"] == 0
    assert figures["captured_not_confirmed"] == 0


def test_forty_attempts_on_ten_seats_confirm_exactly_ten(cloud: LocalWorkflowCloud) -> None:
    assert_no_overbooking(run_race(cloud, attempts=40, seats=10))


def test_two_hundred_attempts_on_fifty_seats_confirm_exactly_fifty(cloud: LocalWorkflowCloud) -> None:
    assert_no_overbooking(run_race(cloud, attempts=200, seats=50))
