"""The packaged booking workflow executed on moto's interpreter, its tasks running the real handlers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.workflow.conftest import (
    add_flight,
    booking_item,
    execution_of,
    post_booking,
    scan,
    seats_available,
)
from tests.workflow.harness import Fault, LocalWorkflowCloud

STAGE_PREFIX = "airline-{stack}-local-{name}"

# One worker runs every workflow test: they share a moto server per module.
pytestmark = pytest.mark.xdist_group("workflow")


def fn(stack: str, name: str) -> str:
    return STAGE_PREFIX.format(stack=stack, name=name)


RESERVE = fn("catalog", "reserveSeat")
AUTHORIZE = fn("payment", "authorizePayment")
CAPTURE = fn("payment", "capturePayment")
CONFIRM = fn("booking", "confirmBooking")


def book_and_wait(cloud: LocalWorkflowCloud, flight: str, token: str, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    answer = post_booking(flight, token, **kwargs)
    assert answer["statusCode"] == 202, answer
    booking_id: str = answer["json"]["bookingId"]
    done = cloud.wait(execution_of(cloud, booking_id))
    return booking_id, done


def payments_of(cloud: LocalWorkflowCloud, booking_id: str) -> list[dict[str, str]]:
    return [
        {"paymentId": item["paymentId"]["S"], "status": item["status"]["S"]}
        for item in scan(cloud, "airline-local-payments")
        if item["bookingId"]["S"] == booking_id
    ]


def events_for(cloud: LocalWorkflowCloud, booking_id: str) -> list[dict[str, Any]]:
    return [e for e in cloud.published_events() if e["event"]["bookingId"] == booking_id]


def states_entered(cloud: LocalWorkflowCloud, execution_arn: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"] for e in cloud.history(execution_arn) if "stateEnteredEventDetails" in e
    ]


def assert_succeeded(cloud: LocalWorkflowCloud, done: dict[str, Any]) -> None:
    assert done["status"] == "SUCCEEDED", json.dumps(cloud.history(done["executionArn"])[-4:], default=str)


def test_happy_path_confirms_captures_holds_one_seat_and_publishes_booking_confirmed(cloud: LocalWorkflowCloud) -> None:
    flight = add_flight(cloud, seats=5, price=12050)

    booking_id, done = book_and_wait(cloud, flight, "tok_visa")

    assert_succeeded(cloud, done)
    booking = booking_item(cloud, booking_id)
    assert booking["status"] == "CONFIRMED"
    assert len(booking["bookingReference"]) == 6
    assert seats_available(cloud, flight) == 4
    assert payments_of(cloud, booking_id) == [{"paymentId": booking["paymentId"], "status": "CAPTURED"}]
    (published,) = events_for(cloud, booking_id)
    assert published["attributes"]["eventType"] == "BookingConfirmed"
    assert published["event"]["amount"] == {"amount": 12050, "currency": "EUR"}
    assert published["event"]["customerId"] == "customer-1"
    assert states_entered(cloud, done["executionArn"]) == [
        "ReserveSeat",
        "AuthorizePayment",
        "ConfirmBooking",
        "CapturePayment",
        "PublishBookingConfirmed",
        "Booked",
    ]


def test_sold_out_cancels_with_sold_out_and_charges_nothing(cloud: LocalWorkflowCloud) -> None:
    flight = add_flight(cloud, seats=1)
    book_and_wait(cloud, flight, "tok_visa")
    cloud.published_events()

    booking_id, done = book_and_wait(cloud, flight, "tok_visa")

    assert_succeeded(cloud, done)
    booking = booking_item(cloud, booking_id)
    assert (booking["status"], booking["cancelReason"]) == ("CANCELLED", "SOLD_OUT")
    assert seats_available(cloud, flight) == 0
    assert payments_of(cloud, booking_id) == []
    assert [e["event"]["eventType"] for e in events_for(cloud, booking_id)] == ["BookingCancelled"]
    assert cloud.invoker.log.count(AUTHORIZE) >= 1  # the first booking's; none for this one
    assert "AuthorizePayment" not in states_entered(cloud, done["executionArn"])


@pytest.mark.parametrize("token", ["tok_chargeDeclined", "tok_insufficientFunds"])
def test_a_declined_card_releases_the_seat_and_cancels_with_payment_declined(
    cloud: LocalWorkflowCloud, token: str
) -> None:
    flight = add_flight(cloud, seats=3)

    booking_id, done = book_and_wait(cloud, flight, token)

    assert_succeeded(cloud, done)
    booking = booking_item(cloud, booking_id)
    assert (booking["status"], booking["cancelReason"]) == ("CANCELLED", "PAYMENT_DECLINED")
    assert seats_available(cloud, flight) == 3
    assert all(p["status"] not in ("AUTHORIZED", "CAPTURED") for p in payments_of(cloud, booking_id))
    (published,) = events_for(cloud, booking_id)
    assert (published["event"]["eventType"], published["event"]["reason"]) == ("BookingCancelled", "PAYMENT_DECLINED")
    assert published["event"]["amount"]["amount"] == 0
    assert "ReleaseSeat" in states_entered(cloud, done["executionArn"])


def test_a_transient_processing_error_is_retried_then_succeeds(cloud: LocalWorkflowCloud) -> None:
    flight = add_flight(cloud, seats=2)
    before = cloud.invoker.log.count(AUTHORIZE, "PaymentProcessingError")

    booking_id, done = book_and_wait(cloud, flight, "tok_processingError")

    assert_succeeded(cloud, done)
    assert booking_item(cloud, booking_id)["status"] == "CONFIRMED"
    assert cloud.invoker.log.count(AUTHORIZE, "PaymentProcessingError") == before + 1
    assert [p["status"] for p in payments_of(cloud, booking_id)] == ["CAPTURED"]
    assert states_entered(cloud, done["executionArn"]).count("AuthorizePayment") == 1  # a Retry, not a re-entry


def test_a_capture_failing_after_authorization_voids_releases_and_cancels(cloud: LocalWorkflowCloud) -> None:
    flight = add_flight(cloud, seats=2)

    booking_id, done = book_and_wait(cloud, flight, "tok_captureFails")

    assert_succeeded(cloud, done)
    booking = booking_item(cloud, booking_id)
    assert (booking["status"], booking["cancelReason"]) == ("CANCELLED", "CAPTURE_FAILED")
    assert [p["status"] for p in payments_of(cloud, booking_id)] == ["VOIDED"]
    assert seats_available(cloud, flight) == 2
    assert [e["event"]["eventType"] for e in events_for(cloud, booking_id)] == ["BookingCancelled"]
    entered = states_entered(cloud, done["executionArn"])
    assert entered[entered.index("CapturePayment") :] == [
        "CapturePayment",
        "CaptureFailed",
        "VoidPayment",
        "ReleaseSeat",
        "MarkCancelled",
        "PublishBookingCancelled",
        "NotBooked",
    ]


def test_confirm_finding_the_booking_no_longer_pending_voids_and_releases(cloud: LocalWorkflowCloud) -> None:
    flight = add_flight(cloud, seats=2)

    def cancel_under_the_workflow(event: dict[str, Any]) -> None:
        # Someone (an operator, an expiry job) cancelled the booking while payment was authorized.
        cloud.client("dynamodb").update_item(
            TableName="airline-local-bookings",
            Key={"bookingId": {"S": event["bookingId"]}},
            UpdateExpression="SET #s = :c, cancelReason = :r",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":c": {"S": "CANCELLED"}, ":r": {"S": "EXPIRED"}},
        )

    cloud.invoker.before[CONFIRM] = cancel_under_the_workflow

    booking_id, done = book_and_wait(cloud, flight, "tok_visa")

    assert_succeeded(cloud, done)
    assert cloud.invoker.log.count(CONFIRM, "BookingNotPending") >= 1
    assert booking_item(cloud, booking_id)["status"] == "CANCELLED"
    assert [p["status"] for p in payments_of(cloud, booking_id)] == ["VOIDED"]
    assert seats_available(cloud, flight) == 2
    assert [e["event"]["eventType"] for e in events_for(cloud, booking_id)] == ["BookingCancelled"]


def test_confirm_crashing_every_time_compensates_with_confirmation_failed(cloud: LocalWorkflowCloud) -> None:
    flight = add_flight(cloud, seats=2)
    cloud.invoker.faults.append(Fault(CONFIRM, times=10, after_work=False))

    booking_id, done = book_and_wait(cloud, flight, "tok_visa")

    assert_succeeded(cloud, done)
    booking = booking_item(cloud, booking_id)
    assert (booking["status"], booking["cancelReason"]) == ("CANCELLED", "CONFIRMATION_FAILED")
    assert [p["status"] for p in payments_of(cloud, booking_id)] == ["VOIDED"]
    assert seats_available(cloud, flight) == 2


@pytest.mark.parametrize("crashing", [RESERVE, AUTHORIZE, CONFIRM, CAPTURE])
def test_a_crash_after_a_step_did_its_work_is_retried_without_double_booking_or_charging(
    cloud: LocalWorkflowCloud, crashing: str
) -> None:
    # The function does its work, then its runtime dies before answering (Lambda.Unknown):
    # Step Functions runs the same task again, which must find the first result.
    flight = add_flight(cloud, seats=3)
    cloud.invoker.faults.append(Fault(crashing, times=1, after_work=True))

    booking_id, done = book_and_wait(cloud, flight, "tok_visa")

    assert_succeeded(cloud, done)
    assert cloud.invoker.faults[0].times == 0, "the crash was injected"
    booking = booking_item(cloud, booking_id)
    assert booking["status"] == "CONFIRMED"
    assert seats_available(cloud, flight) == 2
    assert [p["status"] for p in payments_of(cloud, booking_id)] == ["CAPTURED"]
    references = [i for i in scan(cloud, "airline-local-booking-references") if i["bookingId"]["S"] == booking_id]
    assert len(references) == 1
    assert [e["event"]["eventType"] for e in events_for(cloud, booking_id)] == ["BookingConfirmed"]


def test_a_duplicate_start_for_one_booking_runs_once(cloud: LocalWorkflowCloud) -> None:
    flight = add_flight(cloud, seats=3)
    first = post_booking(flight, "tok_visa", key="duplicate-start-1")
    booking_id = first["json"]["bookingId"]
    done = cloud.wait(execution_of(cloud, booking_id))
    sfn = cloud.client("stepfunctions")
    original_input = sfn.describe_execution(executionArn=done["executionArn"])["input"]

    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=cloud.arn("-workflow"), name=booking_id, input=original_input)
    again = post_booking(flight, "tok_visa", key="duplicate-start-1")  # the API replays too

    assert again["json"]["bookingId"] == booking_id
    assert [e["name"] for e in sfn.list_executions(stateMachineArn=cloud.arn("-workflow"))["executions"]].count(
        booking_id
    ) == 1
    assert seats_available(cloud, flight) == 2
    assert [p["status"] for p in payments_of(cloud, booking_id)] == ["CAPTURED"]


def test_ten_replays_of_one_request_make_one_booking_and_one_payment(cloud: LocalWorkflowCloud) -> None:
    flight = add_flight(cloud, seats=3)
    answers = [post_booking(flight, "tok_visa", key="ten-replays-0001") for _ in range(10)]
    booking_ids = {a["json"]["bookingId"] for a in answers}
    assert len(booking_ids) == 1
    (booking_id,) = booking_ids
    assert_succeeded(cloud, cloud.wait(execution_of(cloud, booking_id)))
    assert [p["status"] for p in payments_of(cloud, booking_id)] == ["CAPTURED"]
    assert seats_available(cloud, flight) == 2
    assert len([b for b in scan(cloud, "airline-local-bookings") if b["bookingId"]["S"] == booking_id]) == 1


def test_the_owner_cancels_a_confirmed_booking_refund_release_cancelled_event(cloud: LocalWorkflowCloud) -> None:
    from handlers.booking import api
    from tests.support.events import FakeLambdaContext, claims_for, http_event

    flight = add_flight(cloud, seats=2, price=30000)
    booking_id, done = book_and_wait(cloud, flight, "tok_visa")
    assert_succeeded(cloud, done)
    cloud.published_events()

    event = http_event(
        "POST", f"/bookings/{booking_id}/cancel", route="/bookings/{bookingId}/cancel", claims=claims_for("customer-1")
    )
    answer = api.handler(event, FakeLambdaContext())
    assert answer["statusCode"] == 202, answer
    cancelled = cloud.wait(execution_of(cloud, booking_id, "-cancellation"))

    assert_succeeded(cloud, cancelled)
    booking = booking_item(cloud, booking_id)
    assert (booking["status"], booking["cancelReason"], booking["refunded"]) == (
        "CANCELLED",
        "CUSTOMER_CANCELLED",
        True,
    )
    assert [p["status"] for p in payments_of(cloud, booking_id)] == ["REFUNDED"]
    assert seats_available(cloud, flight) == 2
    (published,) = events_for(cloud, booking_id)
    assert published["event"]["eventType"] == "BookingCancelled"
    assert published["event"]["amount"] == {"amount": 30000, "currency": "EUR"}
    # a second request changes nothing
    again = api.handler(event, FakeLambdaContext())
    assert json.loads(again["body"])["status"] == "CANCELLED"


def test_a_capture_that_went_through_but_never_answered_is_refunded(cloud: LocalWorkflowCloud) -> None:
    # The capture takes the money every time, but every answer is lost: after its retries the
    # workflow compensates; the void finds the money taken (PaymentAlreadyCaptured) and refunds.
    flight = add_flight(cloud, seats=2, price=4500)
    cloud.invoker.faults.append(Fault(CAPTURE, times=10, after_work=True))

    booking_id, done = book_and_wait(cloud, flight, "tok_visa")

    assert_succeeded(cloud, done)
    booking = booking_item(cloud, booking_id)
    assert (booking["status"], booking["cancelReason"], booking["refunded"]) == ("CANCELLED", "PAYMENT_ERROR", True)
    assert [p["status"] for p in payments_of(cloud, booking_id)] == ["REFUNDED"]
    assert seats_available(cloud, flight) == 2
    entered = states_entered(cloud, done["executionArn"])
    assert entered[entered.index("VoidPayment") :][:3] == ["VoidPayment", "RefundPayment", "ReleaseSeat"]
    (published,) = events_for(cloud, booking_id)
    assert (published["event"]["eventType"], published["event"]["amount"]["amount"]) == ("BookingCancelled", 4500)


def test_an_authorization_that_went_through_but_never_answered_is_voided(cloud: LocalWorkflowCloud) -> None:
    # Every authorize call holds the money, but every answer is lost: after its retries the
    # workflow cannot know the paymentId, so it voids the booking's authorization by booking id.
    flight = add_flight(cloud, seats=2)
    cloud.invoker.faults.append(Fault(AUTHORIZE, times=20, after_work=True))

    booking_id, done = book_and_wait(cloud, flight, "tok_visa")

    assert_succeeded(cloud, done)
    booking = booking_item(cloud, booking_id)
    assert (booking["status"], booking["cancelReason"]) == ("CANCELLED", "PAYMENT_ERROR")
    assert [p["status"] for p in payments_of(cloud, booking_id)] == ["VOIDED"]
    assert seats_available(cloud, flight) == 2
    entered = states_entered(cloud, done["executionArn"])
    assert entered[entered.index("PaymentError") :][:3] == ["PaymentError", "VoidUnknownAuthorization", "ReleaseSeat"]


def test_an_authorization_that_never_ran_leaves_nothing_to_void(cloud: LocalWorkflowCloud) -> None:
    flight = add_flight(cloud, seats=2)
    cloud.invoker.faults.append(Fault(AUTHORIZE, times=20, after_work=False))

    booking_id, done = book_and_wait(cloud, flight, "tok_visa")

    assert_succeeded(cloud, done)
    booking = booking_item(cloud, booking_id)
    assert (booking["status"], booking["cancelReason"]) == ("CANCELLED", "PAYMENT_ERROR")
    assert payments_of(cloud, booking_id) == []
    assert seats_available(cloud, flight) == 2
