"""The failures AWS really produces, injected under their real names at every task, end right.

Faults come in two ways: at the moto edge (`AwsFault`: DynamoDB and SNS answer an AWS
error for chosen requests, so the real handler code meets it through the SDK, which
gives up after 2 attempts here), or at the Lambda boundary (`Fault`: the invocation
fails under a Lambda/Step Functions name such as `Sandbox.Timedout`). Each test
checks the name reached the state machine (the failed invocation is logged under it)
and that the booking ended consistent: retried and confirmed, or compensated.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from handlers.catalog.dal import SEAT_WRITE_ATTEMPTS
from tests.workflow.conftest import add_flight, booking_item, execution_of, post_booking, scan, seats_available
from tests.workflow.harness import AwsFault, Fault, LocalWorkflowCloud
from tests.workflow.test_concurrency import run_race

pytestmark = pytest.mark.xdist_group("workflow")

ROOT = Path(__file__).resolve().parents[2]
RESERVE = "airline-catalog-local-reserveSeat"
# what the forward steps' busy retrier allows (contention, throttling) (the workflow's own file, so the test follows it)
CONTENTION_RETRIES = yaml.safe_load((ROOT / "services/booking/workflows/retry.yml").read_text())["retryBusy"][
    "MaxAttempts"
]
RELEASE = "airline-catalog-local-releaseSeat"
AUTHORIZE = "airline-payment-local-authorizePayment"
CAPTURE = "airline-payment-local-capturePayment"
VOID = "airline-payment-local-voidPayment"
CONFIRM = "airline-booking-local-confirmBooking"
MARK_CANCELLED = "airline-booking-local-markBookingCancelled"
PUBLISH = "airline-booking-local-publishBookingEvent"
SDK_ATTEMPTS = 2  # AWS_MAX_ATTEMPTS in the harness: this many faults fail one invocation


@pytest.fixture(autouse=True)
def _fresh_invoke_log(cloud: LocalWorkflowCloud) -> None:
    """Counts below are of this test's invocations only."""
    with cloud.invoker.log.lock:
        cloud.invoker.log.calls.clear()


def book(cloud: LocalWorkflowCloud, flight: str, token: str = "tok_visa") -> tuple[str, dict[str, Any]]:  # noqa: S107
    answer = post_booking(flight, token)
    assert answer["statusCode"] == 202, answer
    booking_id: str = answer["json"]["bookingId"]
    return booking_id, cloud.wait(execution_of(cloud, booking_id))


def payment_statuses(cloud: LocalWorkflowCloud, booking_id: str) -> list[str]:
    return [i["status"]["S"] for i in scan(cloud, "airline-local-payments") if i["bookingId"]["S"] == booking_id]


def assert_confirmed(cloud: LocalWorkflowCloud, flight: str, booking_id: str, done: dict[str, Any]) -> None:
    assert done["status"] == "SUCCEEDED", cloud.history(done["executionArn"])[-3:]
    assert booking_item(cloud, booking_id)["status"] == "CONFIRMED"
    assert seats_available(cloud, flight) == 2
    assert payment_statuses(cloud, booking_id) == ["CAPTURED"]


@pytest.mark.parametrize(
    ("function", "fault"),
    [
        (RESERVE, AwsFault("TransactWriteItems", "ProvisionedThroughputExceededException", '"airline-local-flights"')),
        (AUTHORIZE, AwsFault("UpdateItem", "ThrottlingException", '"airline-local-payment-operations"')),
        (AUTHORIZE, AwsFault("TransactWriteItems", "RequestLimitExceeded", '"airline-local-payments"')),
        (CONFIRM, AwsFault("TransactWriteItems", "ThrottlingException", '"airline-local-booking-references"')),
        (CONFIRM, AwsFault("GetItem", "InternalServerError", '"airline-local-bookings"', status=500)),
        (PUBLISH, AwsFault("UpdateItem", "ProvisionedThroughputExceededException", '"airline-local-bookings"')),
    ],
    ids=["flights", "payment-operations", "payments", "booking-references", "bookings-read", "bookings-write"],
)
def test_throttling_on_each_table_is_retried_and_the_booking_confirms(
    cloud: LocalWorkflowCloud, function: str, fault: AwsFault
) -> None:
    flight = add_flight(cloud, seats=3)
    fault.times = SDK_ATTEMPTS
    cloud.moto.faults.append(fault)

    booking_id, done = book(cloud, flight)

    assert fault.times == 0, "the fault was injected"
    assert cloud.invoker.log.count(function, fault.code) == 1, "the task failed under the AWS name, then was retried"
    assert_confirmed(cloud, flight, booking_id, done)


def test_an_aws_5xx_the_sdk_has_no_class_for_is_retried_as_service_unavailable(cloud: LocalWorkflowCloud) -> None:
    flight = add_flight(cloud, seats=3)
    cloud.moto.faults.append(
        AwsFault("TransactWriteItems", "ServiceUnavailable", '"airline-local-flights"', times=2, status=503)
    )

    booking_id, done = book(cloud, flight)

    assert cloud.invoker.log.count(RESERVE, "ServiceUnavailable") == 1
    assert_confirmed(cloud, flight, booking_id, done)


def test_a_transaction_conflict_on_reserve_seat_is_retried_never_a_false_cancellation(
    cloud: LocalWorkflowCloud,
) -> None:
    # Given DynamoDB cancels the seat transaction for TransactionConflict as often as
    # the data layer tries it within one invocation
    flight = add_flight(cloud, seats=3)
    cloud.moto.faults.append(
        AwsFault(
            "TransactWriteItems",
            "TransactionCanceledException",
            '"airline-local-flights"',
            times=SEAT_WRITE_ATTEMPTS,
            reasons=("TransactionConflict", "None"),
        )
    )

    booking_id, done = book(cloud, flight)

    # Then the task fails as a transient WriteConflict, Step Functions retries it, the seat is held once
    assert cloud.invoker.log.count(RESERVE, "WriteConflict") == 1
    assert_confirmed(cloud, flight, booking_id, done)


def test_a_conflict_that_never_clears_compensates_and_gives_the_seat_back(cloud: LocalWorkflowCloud) -> None:
    flight = add_flight(cloud, seats=3)
    cloud.moto.faults.append(
        AwsFault(
            "TransactWriteItems",
            "TransactionCanceledException",
            '"airline-local-flights"',
            times=SEAT_WRITE_ATTEMPTS * (1 + CONTENTION_RETRIES),  # every attempt of every run of reserveSeat
            reasons=("TransactionConflict", "None"),
        )
    )

    booking_id, done = book(cloud, flight)

    assert done["status"] == "SUCCEEDED"
    assert cloud.invoker.log.count(RESERVE, "WriteConflict") == 1 + CONTENTION_RETRIES
    booking = booking_item(cloud, booking_id)
    assert (booking["status"], booking["cancelReason"]) == ("CANCELLED", "SEAT_ERROR")
    assert seats_available(cloud, flight) == 3
    assert payment_statuses(cloud, booking_id) == []


@pytest.mark.parametrize("code", ["Throttled", "KMSThrottling", "InternalError"])
def test_a_publish_failure_is_retried_and_the_event_goes_out(cloud: LocalWorkflowCloud, code: str) -> None:
    flight = add_flight(cloud, seats=3)
    cloud.published_events()  # drain earlier tests' events
    cloud.moto.faults.append(
        AwsFault("Publish", code, times=SDK_ATTEMPTS, status=500 if code == "InternalError" else 400)
    )

    booking_id, done = book(cloud, flight)

    # (the SDK retries Throttled and InternalError once more itself, KMSThrottling not)
    assert cloud.invoker.log.count(PUBLISH, f"{code}Exception") >= 1
    assert_confirmed(cloud, flight, booking_id, done)
    events = [e for e in cloud.published_events() if e["event"]["bookingId"] == booking_id]
    assert [e["event"]["eventType"] for e in events] == ["BookingConfirmed"]
    assert booking_item(cloud, booking_id)["settledAt"]


# (`States.Timeout` is raised by Step Functions itself when a task outlives TimeoutSeconds, 15 s
# here; a task cannot report a `States.` name, so it is not injected at the Lambda boundary.)
@pytest.mark.parametrize(
    ("function", "error"),
    [
        *[(function, "Sandbox.Timedout") for function in (RESERVE, AUTHORIZE, CONFIRM, CAPTURE, PUBLISH)],
        (RESERVE, "Lambda.ServiceException"),
        (CAPTURE, "Lambda.TooManyRequestsException"),
    ],
)
def test_a_timeout_or_throttled_invoke_of_each_forward_task_is_retried(
    cloud: LocalWorkflowCloud, function: str, error: str
) -> None:
    flight = add_flight(cloud, seats=3)
    # A timeout may strike after the work was done: the retry must find the first result.
    cloud.invoker.faults.append(Fault(function, times=1, after_work=error == "Sandbox.Timedout", error_type=error))

    booking_id, done = book(cloud, flight)

    assert cloud.invoker.log.count(function, error) == 1
    assert_confirmed(cloud, flight, booking_id, done)


@pytest.mark.parametrize("function", [RELEASE, MARK_CANCELLED, PUBLISH])
def test_a_timeout_in_each_compensation_step_is_retried_and_the_booking_ends_cancelled(
    cloud: LocalWorkflowCloud, function: str
) -> None:
    flight = add_flight(cloud, seats=3)
    cloud.invoker.faults.append(Fault(function, times=2, after_work=True, error_type="Sandbox.Timedout"))

    booking_id, done = book(cloud, flight, "tok_chargeDeclined")

    assert done["status"] == "SUCCEEDED"
    assert cloud.invoker.log.count(function, "Sandbox.Timedout") == 2
    booking = booking_item(cloud, booking_id)
    assert (booking["status"], booking["cancelReason"]) == ("CANCELLED", "PAYMENT_DECLINED")
    assert seats_available(cloud, flight) == 3


def test_a_throttled_void_is_retried_and_no_authorization_is_left(cloud: LocalWorkflowCloud) -> None:
    flight = add_flight(cloud, seats=3)
    cloud.moto.faults.append(
        AwsFault("UpdateItem", "ProvisionedThroughputExceededException", '"airline-local-payment-operations"', times=0)
    )

    armed: list[bool] = []

    def arm_on_void(_: dict[str, Any]) -> None:
        if not armed:  # throttle the first void's first write only
            armed.append(True)
            cloud.moto.faults[0].times = SDK_ATTEMPTS

    cloud.invoker.before[VOID] = arm_on_void
    booking_id, done = book(cloud, flight, "tok_captureFails")

    assert done["status"] == "SUCCEEDED"
    assert cloud.invoker.log.count(VOID, "ProvisionedThroughputExceededException") >= 1
    booking = booking_item(cloud, booking_id)
    assert (booking["status"], booking["cancelReason"]) == ("CANCELLED", "CAPTURE_FAILED")
    assert payment_statuses(cloud, booking_id) == ["VOIDED"]
    assert seats_available(cloud, flight) == 3


def test_concurrent_seat_transactions_conflict_and_are_retried_never_falsely_cancelled(
    cloud: LocalWorkflowCloud,
) -> None:
    # Given the edge cancels a seat transaction that overlaps another on the flight item
    # (TransactionConflict, as DynamoDB does) instead of serializing the two
    cloud.moto.real_conflicts = True
    conflicts_before = cloud.moto.conflicts_answered
    # and the reserveSeat invocations arrive in bursts of 10 (the API starts executions one
    # by one; a popular flight sees its seat writes at the same moment)
    burst = threading.Barrier(10, timeout=3)

    def arrive_together(_: dict[str, Any]) -> None:
        try:
            burst.wait()
        except threading.BrokenBarrierError:
            burst.reset()

    cloud.invoker.before[RESERVE] = arrive_together

    figures = run_race(cloud, attempts=30, seats=10)

    # Then contention really happened, and every booking ended confirmed or sold out
    assert cloud.moto.conflicts_answered > conflicts_before, "no transaction conflicted: the test proves nothing"
    assert figures["confirmed"] == 10
    assert figures["cancelled_sold_out"] == 20
    assert figures["other_outcomes"] == 0, "a conflict was taken for a failure (SEAT_ERROR)"
    assert figures["seats_available_end"] == 0
    assert figures["dangling_authorizations"] == 0
