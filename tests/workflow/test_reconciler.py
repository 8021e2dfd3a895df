"""The reconciler drives bookings left unfinished to their end, on the packaged workflows (moto executes them)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from handlers.booking.config import BookingConfig
from handlers.shared.config import from_environment
from tests.support.events import FakeLambdaContext, claims_for, http_event
from tests.workflow.conftest import add_flight, booking_item, execution_of, post_booking, seats_available
from tests.workflow.harness import LocalWorkflowCloud, free_port, reset_handler_state

pytestmark = pytest.mark.xdist_group("workflow")

RESERVE = "airline-catalog-local-reserveSeat"


@pytest.fixture
def reconcile_now(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The packaged reconcileBookings handler with a threshold of 0 s (every open booking is late)."""
    monkeypatch.setenv("RECONCILE_AFTER_SECONDS", "0")
    reset_handler_state()
    from handlers.booking.schedule import reconcile_handler

    def run() -> dict[str, Any]:
        report: dict[str, Any] = reconcile_handler({}, FakeLambdaContext(function_name="reconcileBookings"))
        return report

    yield run
    monkeypatch.delenv("RECONCILE_AFTER_SECONDS")
    reset_handler_state()


@pytest.fixture
def unreachable_step_functions(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """StartExecution fails as it does when Step Functions cannot be reached."""
    from handlers.booking import api
    from handlers.booking.dal import StepFunctionsStarter

    dead = boto3.client(
        "stepfunctions",
        region_name="eu-west-1",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    adapters = dataclasses.replace(
        api.build_adapters(from_environment(BookingConfig)), starter=StepFunctionsStarter(dead)
    )
    monkeypatch.setattr(api, "cold_start", lambda: adapters)
    yield
    monkeypatch.undo()


def test_a_booking_whose_workflow_never_started_is_started_by_the_reconciler_and_confirms(
    cloud: LocalWorkflowCloud, reconcile_now: Any, unreachable_step_functions: None
) -> None:
    flight = add_flight(cloud, seats=3)
    answer = post_booking(flight, "tok_visa", key="never-started-0001")
    assert answer["statusCode"] == 503
    from handlers.booking.logic import booking_id_for

    booking_id = booking_id_for("customer-1", "never-started-0001")
    assert booking_item(cloud, booking_id)["status"] == "PENDING"

    report = reconcile_now()

    assert report["started"] >= 1
    done = cloud.wait(execution_of(cloud, booking_id))
    assert done["status"] == "SUCCEEDED"
    assert booking_item(cloud, booking_id)["status"] == "CONFIRMED"
    assert seats_available(cloud, flight) == 2
    # run again: nothing left to do for it, and no second execution
    again = reconcile_now()
    assert again["started"] == 0


def test_a_cancellation_that_never_started_is_started_by_the_reconciler(
    cloud: LocalWorkflowCloud, reconcile_now: Any
) -> None:
    from handlers.booking import api
    from handlers.booking.dal import StepFunctionsStarter

    flight = add_flight(cloud, seats=3)
    answer = post_booking(flight, "tok_visa", key="cancel-never-0001")
    booking_id = answer["json"]["bookingId"]
    assert cloud.wait(execution_of(cloud, booking_id))["status"] == "SUCCEEDED"
    dead = boto3.client(
        "stepfunctions",
        region_name="eu-west-1",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    adapters = dataclasses.replace(
        api.build_adapters(from_environment(BookingConfig)), starter=StepFunctionsStarter(dead)
    )
    event = http_event(
        "POST",
        f"/bookings/{booking_id}/cancel",
        route="/bookings/{bookingId}/cancel",
        claims=claims_for("customer-1"),
        path_parameters={"bookingId": booking_id},
    )
    context = FakeLambdaContext(function_name="airline-booking-local-cancelBooking")
    cancelled = api.handler(event, context, adapters=adapters)
    assert cancelled["statusCode"] == 503
    assert booking_item(cloud, booking_id)["status"] == "CANCELLING"

    report = reconcile_now()

    assert report["started"] >= 1
    done = cloud.wait(execution_of(cloud, booking_id, "-cancellation"))
    assert done["status"] == "SUCCEEDED"
    booking = booking_item(cloud, booking_id)
    assert (booking["status"], booking["cancelReason"], booking["refunded"]) == (
        "CANCELLED",
        "CUSTOMER_CANCELLED",
        True,
    )
    assert seats_available(cloud, flight) == 3


def test_a_stopped_execution_is_redriven_or_reported_for_an_operator(
    cloud: LocalWorkflowCloud, reconcile_now: Any
) -> None:
    # Given an execution that stopped half-way (aborted while reserveSeat ran)
    flight = add_flight(cloud, seats=3)
    entered = threading.Event()
    release = threading.Event()

    def hold(_: dict[str, Any]) -> None:
        entered.set()
        release.wait(10)

    cloud.invoker.before[RESERVE] = hold
    answer = post_booking(flight, "tok_visa", key="stopped-exec-0001")
    booking_id = answer["json"]["bookingId"]
    assert entered.wait(10)
    cloud.client("stepfunctions").stop_execution(executionArn=execution_of(cloud, booking_id), error="Operator")
    release.set()
    assert cloud.wait(execution_of(cloud, booking_id))["status"] == "ABORTED"

    report = reconcile_now()

    # Then the reconciler asks Step Functions to redrive it. moto 5.2 has no
    # RedriveExecution (it answers 500): the run defers it, and the booking stays
    # counted in OpenBookingsPastThreshold (the alarm) until an operator or a redrive acts.
    assert report["redriven"] + report["deferred"] >= 1
    assert report["openPastThreshold"] >= 1
    assert booking_item(cloud, booking_id)["status"] == "PENDING"
