"""The failures AWS really produces, injected under their real names at every task, end right.

Faults are rules of the local cloud's fault control (`/_localcloud/faults`), struck a set number of
times: at the edge, where the function's own SDK meets them as AWS answers them (DynamoDB and SNS
errors in their wire shape), or at the Lambda boundary (a function that timed out after doing its
work, `Sandbox.Timedout`; a crash before it ran; a throttled invoke). Each test checks the fault
struck, which name Step Functions saw where the SDK does not absorb it, and that the booking ended
consistent: retried and confirmed, or compensated.

The SDK in a function retries throttling and 5xx itself, as on AWS (botocore's legacy mode: 10
attempts for DynamoDB, 5 for SNS, with backoff), so a short burst never reaches the workflow; a
persistent one outlives the function's timeout and reaches it as `Sandbox.Timedout`, which the
tests inject directly. What the SDK does not retry (`TransactionConflictException`, a cancelled
transaction) reaches the state machine under its own name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from handlers.catalog.dal import SEAT_WRITE_ATTEMPTS
from tests.workflow.conftest import (
    AUTHORIZE,
    CAPTURE,
    CONFIRM,
    MARK_CANCELLED,
    PUBLISH,
    REFERENCES,
    RELEASE,
    RESERVE,
    VOID,
    Workflows,
)

ROOT = Path(__file__).resolve().parents[2]
# what the forward steps' busy retrier allows (the workflow's own file, so the test follows it)
CONTENTION_RETRIES = yaml.safe_load((ROOT / "services/booking/workflows/retry.yml").read_text())["retryBusy"][
    "MaxAttempts"
]
STATE_OF = {
    RESERVE: "ReserveSeat",
    AUTHORIZE: "AuthorizePayment",
    CONFIRM: "ConfirmBooking",
    CAPTURE: "CapturePayment",
    PUBLISH: "PublishBookingConfirmed",
}


def rule(service: str, error: str, times: int | None, **where: Any) -> dict[str, Any]:
    found = {"service": service, "error": error, "rate": 1.0, **where}
    if times is not None:
        found["times"] = times
    return found


def assert_confirmed(
    workflows: Workflows, flight: str, booking_id: str, done: dict[str, Any], *, publish_retried: bool = False
) -> None:
    assert done["status"] == "SUCCEEDED", workflows.history(done["executionArn"])[-3:]
    assert workflows.booking(booking_id)["status"] == "CONFIRMED"
    assert workflows.seats_available(flight) == 2
    assert workflows.payment_statuses(booking_id) == ["CAPTURED"]
    assert len(workflows.items_of(REFERENCES, booking_id)) == 1
    published = [e["event"]["eventType"] for e in workflows.events_for(booking_id)]
    if publish_retried:
        # A publish step that ran again after its Publish went out publishes again: SNS delivers at
        # least once, and the consumers count each booking once (docs/events.md).
        assert published
        assert set(published) == {"BookingConfirmed"}
    else:
        assert published == ["BookingConfirmed"]


@pytest.mark.parametrize(
    ("function", "operation", "table", "error"),
    [
        (RESERVE, "TransactWriteItems", "airline-local-flights", "ProvisionedThroughputExceededException"),
        (AUTHORIZE, "UpdateItem", "airline-local-payment-operations", "ThrottlingException"),
        (AUTHORIZE, "TransactWriteItems", "airline-local-payments", "ThrottlingException"),
        (CONFIRM, "TransactWriteItems", "airline-local-booking-references", "ThrottlingException"),
        (CONFIRM, "GetItem", "airline-local-bookings", "InternalServerError"),
        (PUBLISH, "UpdateItem", "airline-local-bookings", "ProvisionedThroughputExceededException"),
    ],
    ids=["flights", "payment-operations", "payments", "booking-references", "bookings-read", "bookings-write"],
)
def test_a_burst_of_throttling_on_each_table_is_ridden_out_and_the_booking_confirms(
    workflows: Workflows, function: str, operation: str, table: str, error: str
) -> None:
    flight = workflows.add_flight(seats=3)
    workflows.faults(rule("dynamodb", error, 3, function=function, operation=operation, resource=table))

    booking_id, done = workflows.book(flight)

    assert workflows.injected() == [3], "the fault struck the function's own calls"
    assert_confirmed(workflows, flight, booking_id, done)


def test_a_write_on_an_item_held_by_a_transaction_is_retried_by_the_workflow(workflows: Workflows) -> None:
    # DynamoDB's TransactionConflictException on a single-item write: the SDK does not retry it, so
    # the task fails under that name and the busy retrier runs it again.
    flight = workflows.add_flight(seats=3)
    workflows.faults(
        rule(
            "dynamodb",
            "TransactionConflict",
            1,
            function=PUBLISH,
            operation="UpdateItem",
            resource="airline-local-bookings",
        )
    )

    booking_id, done = workflows.book(flight)

    assert workflows.task_failures(done["executionArn"]) == [
        ("PublishBookingConfirmed", "TransactionConflictException")
    ]
    assert_confirmed(workflows, flight, booking_id, done, publish_retried=True)
    assert workflows.booking(booking_id)["settledAt"]


def test_a_transaction_conflict_on_reserve_seat_is_retried_never_a_false_cancellation(workflows: Workflows) -> None:
    # Given DynamoDB cancels the seat transaction for TransactionConflict as often as the data
    # layer tries it within one invocation
    flight = workflows.add_flight(seats=3)
    workflows.faults(
        rule(
            "dynamodb",
            "TransactionConflict",
            SEAT_WRITE_ATTEMPTS,
            function=RESERVE,
            operation="TransactWriteItems",
            resource="airline-local-flights",
        )
    )

    booking_id, done = workflows.book(flight)

    # Then the task fails as a transient WriteConflict, Step Functions retries it, the seat is held once
    assert workflows.task_failures(done["executionArn"]) == [("ReserveSeat", "WriteConflict")]
    assert_confirmed(workflows, flight, booking_id, done)


def test_a_conflict_that_never_clears_compensates_and_gives_the_seat_back(workflows: Workflows) -> None:
    flight = workflows.add_flight(seats=3)
    workflows.faults(
        rule(
            "dynamodb",
            "TransactionConflict",
            None,
            function=RESERVE,
            operation="TransactWriteItems",
            resource="airline-local-flights",
        )
    )

    booking_id, done = workflows.book(flight)

    assert done["status"] == "SUCCEEDED"
    assert workflows.task_failures(done["executionArn"]) == [("ReserveSeat", "WriteConflict")] * (
        1 + CONTENTION_RETRIES
    )
    booking = workflows.booking(booking_id)
    assert (booking["status"], booking["cancelReason"]) == ("CANCELLED", "SEAT_ERROR")
    assert workflows.seats_available(flight) == 3
    assert workflows.payment_statuses(booking_id) == []


@pytest.mark.parametrize("error", ["Throttling", "InternalError"])
def test_a_publish_failure_is_ridden_out_and_the_event_goes_out_once(workflows: Workflows, error: str) -> None:
    flight = workflows.add_flight(seats=3)
    workflows.faults(rule("sns", error, 2, function=PUBLISH, operation="Publish"))

    booking_id, done = workflows.book(flight)

    assert workflows.injected() == [2]
    assert_confirmed(workflows, flight, booking_id, done)
    assert workflows.booking(booking_id)["settledAt"]


# (`States.Timeout` is raised by Step Functions itself when a task outlives TimeoutSeconds; a task
# cannot report a `States.` name, so it is not injected at the Lambda boundary.)
@pytest.mark.parametrize(
    ("function", "error", "name"),
    [
        *[(function, "Sandbox.Timedout", "Sandbox.Timedout") for function in STATE_OF],
        (RESERVE, "TooManyRequestsException", "Lambda.TooManyRequestsException"),
        (CAPTURE, "TooManyRequestsException", "Lambda.TooManyRequestsException"),
    ],
)
def test_a_timeout_or_throttled_invoke_of_each_forward_task_is_retried_without_doing_the_work_twice(
    workflows: Workflows, function: str, error: str, name: str
) -> None:
    # A timeout strikes after the function did its work (its answer is lost): the retry must find
    # the first result: one seat, one payment, one reference, one event.
    flight = workflows.add_flight(seats=3)
    workflows.faults(rule("lambda", error, 1, function=function))

    booking_id, done = workflows.book(flight)

    assert workflows.task_failures(done["executionArn"]) == [(STATE_OF[function], name)]
    assert_confirmed(workflows, flight, booking_id, done, publish_retried=function == PUBLISH)


@pytest.mark.parametrize(
    ("function", "state"),
    [(RELEASE, "ReleaseSeat"), (MARK_CANCELLED, "MarkCancelled"), (PUBLISH, "PublishBookingCancelled")],
)
def test_a_timeout_in_each_compensation_step_is_retried_and_the_booking_ends_cancelled(
    workflows: Workflows, function: str, state: str
) -> None:
    flight = workflows.add_flight(seats=3)
    workflows.faults(rule("lambda", "Sandbox.Timedout", 2, function=function))

    booking_id, done = workflows.book(flight, "tok_chargeDeclined")

    assert done["status"] == "SUCCEEDED"
    assert workflows.task_failures(done["executionArn"]).count((state, "Sandbox.Timedout")) == 2
    booking = workflows.booking(booking_id)
    assert (booking["status"], booking["cancelReason"]) == ("CANCELLED", "PAYMENT_DECLINED")
    assert workflows.seats_available(flight) == 3
    published = {e["event"]["eventType"] for e in workflows.events_for(booking_id)}
    assert published == {"BookingCancelled"}  # (more than one when the publish step itself ran again)


def test_a_throttled_void_is_ridden_out_and_no_authorization_is_left(workflows: Workflows) -> None:
    flight = workflows.add_flight(seats=3)
    workflows.faults(
        rule(
            "dynamodb",
            "ProvisionedThroughputExceededException",
            3,
            function=VOID,
            operation="UpdateItem",
            resource="airline-local-payment-operations",
        )
    )

    booking_id, done = workflows.book(flight, "tok_captureFails")

    assert done["status"] == "SUCCEEDED"
    assert workflows.injected() == [3]
    booking = workflows.booking(booking_id)
    assert (booking["status"], booking["cancelReason"]) == ("CANCELLED", "CAPTURE_FAILED")
    assert workflows.payment_statuses(booking_id) == ["VOIDED"]
    assert workflows.seats_available(flight) == 3
