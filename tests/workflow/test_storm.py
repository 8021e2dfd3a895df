"""A storm: 200 bookings on 50 seats with transient faults at every step; figures printed (-s).

Marked slow (figures, not a gate): `pytest tests/workflow/test_storm.py -m slow -s`.
How the faults are injected (harness.Chaos, seeded): 10 % of the handlers' AWS writes
(DynamoDB Put/Update/Delete/TransactWrite, SNS Publish, Step Functions StartExecution)
answer ProvisionedThroughputExceeded / Throttling / InternalServerError, Throttled /
KMSThrottling, or Throttling, and the SDK gives up after 2 attempts (so about 1 % of
calls fail through to the code); 10 % of task invocations fail as Sandbox.Timedout
(after the work), Lambda.ServiceException or Lambda.TooManyRequestsException (before);
seat transactions that overlap on the flight item are cancelled for TransactionConflict.
A client whose POST answers 503 tries once more with the same key, then gives up: those
bookings are left to the reconciler, which runs until nothing is open.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.workflow.conftest import add_flight, execution_of, post_booking, scan, seats_available
from tests.workflow.harness import Chaos, LocalWorkflowCloud, reset_handler_state

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("workflow")]

ATTEMPTS, SEATS, RATE = 200, 50, 0.10
_api_lock = threading.Lock()


def _post(flight: str, index: int) -> str:
    from handlers.booking.logic import booking_id_for

    customer, key = f"storm-{index:04d}", f"storm-{flight}-{index:06d}"
    for _ in range(2):
        with _api_lock:  # one Lambda environment serves one request at a time
            answer = post_booking(flight, "tok_visa", customer=customer, key=key)
        if answer["statusCode"] == 202:
            break
        # never a 500: 503 (retry with the key), or 409 while an attempt is still in flight
        assert (answer["statusCode"], answer["json"]["code"]) in {
            (503, "SERVICE_UNAVAILABLE"),
            (503, "WORKFLOW_UNAVAILABLE"),
            (409, "REQUEST_IN_PROGRESS"),
        }, answer
    return booking_id_for(customer, key)


def _reconcile_until_nothing_is_open(cloud: LocalWorkflowCloud, monkeypatch: pytest.MonkeyPatch) -> int:
    from tests.support.events import FakeLambdaContext

    monkeypatch.setenv("RECONCILE_AFTER_SECONDS", "0")
    reset_handler_state()
    from handlers.booking.schedule import reconcile_handler

    runs = 0
    while runs < 30:
        runs += 1
        report = reconcile_handler({}, FakeLambdaContext(function_name="reconcileBookings"))
        if report["openPastThreshold"] == 0:
            break
        time.sleep(3)
    return runs


def test_a_storm_of_bookings_with_faults_at_every_step_ends_consistent(
    cloud: LocalWorkflowCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    flight = add_flight(cloud, seats=SEATS, price=9900)
    chaos = Chaos(rate=RATE)
    cloud.moto.real_conflicts = True
    cloud.moto.chaos = chaos
    cloud.invoker.chaos = chaos
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=32) as pool:
        booking_ids = list(pool.map(lambda i: _post(flight, i), range(ATTEMPTS)))
    time.sleep(5)
    reconciler_runs = _reconcile_until_nothing_is_open(cloud, monkeypatch)
    for booking_id in booking_ids:  # every execution that exists has ended
        try:
            cloud.wait(execution_of(cloud, booking_id), timeout=900)
        except Exception as exc:
            if "ExecutionDoesNotExist" not in repr(exc):
                raise
    cloud.moto.chaos = None
    cloud.invoker.chaos = None
    elapsed = time.perf_counter() - started

    mine = set(booking_ids)
    bookings = {i["bookingId"]["S"]: i for i in scan(cloud, "airline-local-bookings") if i["bookingId"]["S"] in mine}
    payments = [p for p in scan(cloud, "airline-local-payments") if p["bookingId"]["S"] in mine]
    statuses = Counter(b["status"]["S"] for b in bookings.values())
    reasons = Counter(b["cancelReason"]["S"] for b in bookings.values() if b["status"]["S"] == "CANCELLED")
    confirmed = {k for k, b in bookings.items() if b["status"]["S"] == "CONFIRMED"}
    events = Counter(
        (e["event"]["bookingId"], e["event"]["eventType"])
        for e in cloud.published_events()
        if e["event"]["bookingId"] in mine
    )
    figures: dict[str, Any] = {
        "attempts": ATTEMPTS,
        "seats": SEATS,
        "fault_rate": RATE,
        "faults_injected": dict(sorted(chaos.injected.items())),
        "conflicts_answered": cloud.moto.conflicts_answered,
        "bookings_written": len(bookings),
        "confirmed": len(confirmed),
        "cancelled_by_reason": dict(reasons),
        "false_cancellations": sum(n for reason, n in reasons.items() if reason != "SOLD_OUT"),
        "stuck_not_final": sum(n for status, n in statuses.items() if status not in ("CONFIRMED", "CANCELLED")),
        "confirmed_not_settled": sum(1 for k in confirmed if "settledAt" not in bookings[k]),
        "seats_available_end": seats_available(cloud, flight),
        "dangling_authorizations": sum(1 for p in payments if p["status"]["S"] == "AUTHORIZED"),
        "confirmed_without_capture": len(
            confirmed - {p["bookingId"]["S"] for p in payments if p["status"]["S"] == "CAPTURED"}
        ),
        "booking_confirmed_events_per_confirmed_booking_max": max(
            (n for (_, kind), n in events.items() if kind == "BookingConfirmed"), default=0
        ),
        "reconciler_runs": reconciler_runs,
        "run_seconds": round(elapsed, 1),
    }
    print(f"\nstorm figures: {figures}")
    assert figures["confirmed"] == SEATS
    assert figures["false_cancellations"] == 0
    assert figures["stuck_not_final"] == 0
    assert figures["seats_available_end"] == 0
    assert figures["dangling_authorizations"] == 0
    assert figures["confirmed_without_capture"] == 0
