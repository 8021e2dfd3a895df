"""The booking and cancellation workflows on the local cloud: outcomes, compensations, idempotency."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.workflow.conftest import AUTHORIZE, CAPTURE, CONFIRM, REFERENCES, Workflows


def lambda_fault(function: str, error: str, *, times: int | None = None, **extra: Any) -> dict[str, Any]:
    rule = {"service": "lambda", "function": function, "error": error, "rate": 1.0, **extra}
    if times is not None:
        rule["times"] = times
    return rule


def assert_succeeded(workflows: Workflows, done: dict[str, Any]) -> None:
    assert done["status"] == "SUCCEEDED", json.dumps(workflows.history(done["executionArn"])[-4:], default=str)


def test_happy_path_confirms_captures_holds_one_seat_and_publishes_booking_confirmed(workflows: Workflows) -> None:
    flight = workflows.add_flight(seats=5, price=12050)

    booking_id, done = workflows.book(flight, "tok_visa")

    assert_succeeded(workflows, done)
    booking = workflows.booking(booking_id)
    assert booking["status"] == "CONFIRMED"
    assert len(booking["bookingReference"]) == 6
    assert workflows.seats_available(flight) == 4
    assert [(p["paymentId"], p["status"]) for p in workflows.items_of("airline-local-payments", booking_id)] == [
        (booking["paymentId"], "CAPTURED")
    ]
    (published,) = workflows.events_for(booking_id)
    assert published["attributes"]["eventType"] == "BookingConfirmed"
    assert published["event"]["amount"] == {"amount": 12050, "currency": "EUR"}
    assert published["event"]["customerId"] == workflows.customer()[1]
    assert workflows.states_entered(done["executionArn"]) == [
        "ReserveSeat",
        "AuthorizePayment",
        "ConfirmBooking",
        "CapturePayment",
        "PublishBookingConfirmed",
        "Booked",
    ]


def test_sold_out_cancels_with_sold_out_and_charges_nothing(workflows: Workflows) -> None:
    flight = workflows.add_flight(seats=1)
    workflows.book(flight)
    workflows.published_events()

    booking_id, done = workflows.book(flight)

    assert_succeeded(workflows, done)
    booking = workflows.booking(booking_id)
    assert (booking["status"], booking["cancelReason"]) == ("CANCELLED", "SOLD_OUT")
    assert workflows.seats_available(flight) == 0
    assert workflows.payment_statuses(booking_id) == []
    assert [e["event"]["eventType"] for e in workflows.events_for(booking_id)] == ["BookingCancelled"]
    assert "AuthorizePayment" not in workflows.states_entered(done["executionArn"])


@pytest.mark.parametrize("card", ["tok_chargeDeclined", "tok_insufficientFunds"])
def test_a_declined_card_releases_the_seat_and_cancels_with_payment_declined(workflows: Workflows, card: str) -> None:
    flight = workflows.add_flight(seats=3)

    booking_id, done = workflows.book(flight, card)

    assert_succeeded(workflows, done)
    booking = workflows.booking(booking_id)
    assert (booking["status"], booking["cancelReason"]) == ("CANCELLED", "PAYMENT_DECLINED")
    assert workflows.seats_available(flight) == 3
    assert all(s not in ("AUTHORIZED", "CAPTURED") for s in workflows.payment_statuses(booking_id))
    (published,) = workflows.events_for(booking_id)
    assert (published["event"]["eventType"], published["event"]["reason"]) == ("BookingCancelled", "PAYMENT_DECLINED")
    assert published["event"]["amount"]["amount"] == 0
    assert "ReleaseSeat" in workflows.states_entered(done["executionArn"])


def test_a_transient_processing_error_is_retried_then_succeeds(workflows: Workflows) -> None:
    flight = workflows.add_flight(seats=2)

    booking_id, done = workflows.book(flight, "tok_processingError")

    assert_succeeded(workflows, done)
    assert workflows.booking(booking_id)["status"] == "CONFIRMED"
    assert workflows.task_failures(done["executionArn"]) == [("AuthorizePayment", "PaymentProcessingError")]
    assert workflows.payment_statuses(booking_id) == ["CAPTURED"]
    assert workflows.states_entered(done["executionArn"]).count("AuthorizePayment") == 1  # a Retry, not a re-entry


def test_a_capture_failing_after_authorization_voids_releases_and_cancels(workflows: Workflows) -> None:
    flight = workflows.add_flight(seats=2)

    booking_id, done = workflows.book(flight, "tok_captureFails")

    assert_succeeded(workflows, done)
    booking = workflows.booking(booking_id)
    assert (booking["status"], booking["cancelReason"]) == ("CANCELLED", "CAPTURE_FAILED")
    assert workflows.payment_statuses(booking_id) == ["VOIDED"]
    assert workflows.seats_available(flight) == 2
    assert [e["event"]["eventType"] for e in workflows.events_for(booking_id)] == ["BookingCancelled"]
    entered = workflows.states_entered(done["executionArn"])
    assert entered[entered.index("CapturePayment") :] == [
        "CapturePayment",
        "CaptureFailed",
        "VoidPayment",
        "ReleaseSeat",
        "MarkCancelled",
        "PublishBookingCancelled",
        "NotBooked",
    ]


def test_confirm_finding_the_booking_no_longer_pending_voids_and_releases(workflows: Workflows) -> None:
    # Given confirmBooking is slow to start (a slow dependency), and someone (an operator, an
    # expiry job) cancels the booking while its payment is authorized
    flight = workflows.add_flight(seats=2)
    workflows.faults(lambda_fault(CONFIRM, "latency", latency_ms=1500, times=1))
    answer = workflows.post_booking(flight, "tok_visa")
    booking_id = answer.json()["bookingId"]
    execution = workflows.execution_of(booking_id)
    workflows.wait_for_state(execution, "ConfirmBooking")
    workflows.cloud.client("dynamodb").update_item(
        TableName="airline-local-bookings",
        Key={"bookingId": {"S": booking_id}},
        UpdateExpression="SET #s = :c, cancelReason = :r",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":c": {"S": "CANCELLED"}, ":r": {"S": "EXPIRED"}},
    )

    done = workflows.wait(execution)

    assert workflows.injected() == [1]
    assert_succeeded(workflows, done)
    assert ("ConfirmBooking", "BookingNotPending") in workflows.task_failures(execution)
    assert workflows.booking(booking_id)["status"] == "CANCELLED"
    assert workflows.payment_statuses(booking_id) == ["VOIDED"]
    assert workflows.seats_available(flight) == 2
    assert [e["event"]["eventType"] for e in workflows.events_for(booking_id)] == ["BookingCancelled"]


def test_confirm_crashing_every_time_compensates_with_confirmation_failed(workflows: Workflows) -> None:
    flight = workflows.add_flight(seats=2)
    workflows.faults(lambda_fault(CONFIRM, "crash"))

    booking_id, done = workflows.book(flight)

    assert_succeeded(workflows, done)
    assert workflows.injected()[0] >= 1
    assert ("ConfirmBooking", "Runtime.ExitError") in workflows.task_failures(done["executionArn"])
    booking = workflows.booking(booking_id)
    assert (booking["status"], booking["cancelReason"]) == ("CANCELLED", "CONFIRMATION_FAILED")
    assert workflows.payment_statuses(booking_id) == ["VOIDED"]
    assert workflows.seats_available(flight) == 2


def test_a_duplicate_start_for_one_booking_runs_once(workflows: Workflows) -> None:
    flight = workflows.add_flight(seats=3)
    key = f"duplicate-start-{flight}"
    booking_id, done = workflows.book(flight, key=key)
    sfn = workflows.cloud.client("stepfunctions")
    original_input = workflows.describe(done["executionArn"])["input"]

    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=workflows.machine(), name=booking_id, input=original_input)
    again = workflows.post_booking(flight, "tok_visa", key=key)  # the API replays too

    assert again.json()["bookingId"] == booking_id
    names = [e["name"] for e in sfn.list_executions(stateMachineArn=workflows.machine())["executions"]]
    assert names.count(booking_id) == 1
    assert workflows.seats_available(flight) == 2
    assert workflows.payment_statuses(booking_id) == ["CAPTURED"]


def test_ten_replays_of_one_request_make_one_booking_and_one_payment(workflows: Workflows) -> None:
    flight = workflows.add_flight(seats=3)
    key = f"ten-replays-{flight}"
    answers = [workflows.post_booking(flight, "tok_visa", key=key) for _ in range(10)]
    booking_ids = {a.json()["bookingId"] for a in answers}
    assert len(booking_ids) == 1
    (booking_id,) = booking_ids
    assert_succeeded(workflows, workflows.wait(workflows.execution_of(booking_id)))
    assert workflows.payment_statuses(booking_id) == ["CAPTURED"]
    assert workflows.seats_available(flight) == 2
    assert len(workflows.items_of("airline-local-bookings", booking_id)) == 1


def test_the_owner_cancels_a_confirmed_booking_refund_release_cancelled_event(workflows: Workflows) -> None:
    flight = workflows.add_flight(seats=2, price=30000)
    booking_id, done = workflows.book(flight)
    assert_succeeded(workflows, done)
    workflows.events_for(booking_id)

    answer = workflows.cancel_booking(booking_id)
    assert answer.status_code == 202, answer.text
    cancelled = workflows.wait(workflows.execution_of(booking_id, "-cancellation"))

    assert_succeeded(workflows, cancelled)
    booking = workflows.booking(booking_id)
    assert (booking["status"], booking["cancelReason"], booking["refunded"]) == (
        "CANCELLED",
        "CUSTOMER_CANCELLED",
        True,
    )
    assert workflows.payment_statuses(booking_id) == ["REFUNDED"]
    assert workflows.seats_available(flight) == 2
    (published,) = workflows.events_for(booking_id)
    assert published["event"]["eventType"] == "BookingCancelled"
    assert published["event"]["amount"] == {"amount": 30000, "currency": "EUR"}
    again = workflows.cancel_booking(booking_id)  # a second request changes nothing
    assert again.json()["status"] == "CANCELLED"


def test_a_capture_that_went_through_but_never_answered_is_refunded(workflows: Workflows) -> None:
    # The capture takes the money every time, but every answer is lost (the function times out after
    # its work): after its retries the workflow compensates; the void finds the money taken and refunds.
    flight = workflows.add_flight(seats=2, price=4500)
    workflows.faults(lambda_fault(CAPTURE, "Sandbox.Timedout"))

    booking_id, done = workflows.book(flight)

    assert_succeeded(workflows, done)
    assert workflows.task_failures(done["executionArn"]).count(("CapturePayment", "Sandbox.Timedout")) >= 2
    booking = workflows.booking(booking_id)
    assert (booking["status"], booking["cancelReason"], booking["refunded"]) == ("CANCELLED", "PAYMENT_ERROR", True)
    assert workflows.payment_statuses(booking_id) == ["REFUNDED"]
    assert workflows.seats_available(flight) == 2
    entered = workflows.states_entered(done["executionArn"])
    assert entered[entered.index("VoidPayment") :][:3] == ["VoidPayment", "RefundPayment", "ReleaseSeat"]
    (published,) = workflows.events_for(booking_id)
    assert (published["event"]["eventType"], published["event"]["amount"]["amount"]) == ("BookingCancelled", 4500)


def test_an_authorization_that_went_through_but_never_answered_is_voided(workflows: Workflows) -> None:
    # Every authorize call holds the money, but every answer is lost: the workflow cannot know the
    # paymentId, so it voids the booking's authorization by booking id.
    flight = workflows.add_flight(seats=2)
    workflows.faults(lambda_fault(AUTHORIZE, "Sandbox.Timedout"))

    booking_id, done = workflows.book(flight)

    assert_succeeded(workflows, done)
    booking = workflows.booking(booking_id)
    assert (booking["status"], booking["cancelReason"]) == ("CANCELLED", "PAYMENT_ERROR")
    assert workflows.payment_statuses(booking_id) == ["VOIDED"]
    assert workflows.seats_available(flight) == 2
    entered = workflows.states_entered(done["executionArn"])
    assert entered[entered.index("PaymentError") :][:3] == ["PaymentError", "VoidUnknownAuthorization", "ReleaseSeat"]


def test_an_authorization_that_never_ran_leaves_nothing_to_void(workflows: Workflows) -> None:
    flight = workflows.add_flight(seats=2)
    workflows.faults(lambda_fault(AUTHORIZE, "crash"))

    booking_id, done = workflows.book(flight)

    assert_succeeded(workflows, done)
    booking = workflows.booking(booking_id)
    assert (booking["status"], booking["cancelReason"]) == ("CANCELLED", "PAYMENT_ERROR")
    assert workflows.payment_statuses(booking_id) == []
    assert workflows.seats_available(flight) == 2
    assert workflows.items_of(REFERENCES, booking_id) == []
