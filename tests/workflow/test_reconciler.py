"""The reconciler (`reconcileBookings`, deployed) drives bookings left unfinished to their end.

Its threshold is the local stage's (120 s): a test makes its booking look old by moving the
booking's `openSince` back (the reconciler's clock, compressed), then invokes the function by
its deployed name, as its schedule would.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflow.conftest import BOOKINGS, CANCEL, CREATE, RECONCILE, RELEASE, RESERVE, Workflows

START_FAILS = {"service": "states", "operation": "StartExecution", "error": "InternalError", "rate": 1.0}


def reconcile(workflows: Workflows) -> dict[str, Any]:
    report: dict[str, Any] = workflows.invoke(RECONCILE, {})
    return report


def only_booking_on(workflows: Workflows, flight: str) -> dict[str, Any]:
    pages = workflows.cloud.client("dynamodb").get_paginator("scan")
    found = [
        item
        for page in pages.paginate(TableName=BOOKINGS, ConsistentRead=True)
        for item in page["Items"]
        if item.get("flightId", {}).get("S") == flight
    ]
    assert len(found) == 1, found
    return workflows.booking(found[0]["bookingId"]["S"])


def executions_named(workflows: Workflows, name: str, suffix: str = "-workflow") -> int:
    sfn = workflows.cloud.client("stepfunctions")
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=workflows.machine(suffix))
    return sum(1 for page in pages for e in page["executions"] if e["name"] == name)


def states_after_redrive(workflows: Workflows, execution_arn: str) -> list[str]:
    events = workflows.history(execution_arn)
    (redriven,) = [i for i, e in enumerate(events) if e["type"] == "ExecutionRedriven"]
    return [e["stateEnteredEventDetails"]["name"] for e in events[redriven:] if "stateEnteredEventDetails" in e]


def test_a_booking_whose_workflow_never_started_is_started_by_the_reconciler_and_confirms(
    workflows: Workflows,
) -> None:
    # Given Step Functions fails every StartExecution of createBooking (after the SDK's retries)
    flight = workflows.add_flight(seats=3)
    workflows.faults({**START_FAILS, "function": CREATE})
    answer = workflows.post_booking(flight, "tok_visa")
    assert answer.status_code == 503, answer.text
    booking = only_booking_on(workflows, flight)
    assert booking["status"] == "PENDING"
    booking_id = booking["bookingId"]
    workflows.clear_faults()
    workflows.age(booking_id)

    report = reconcile(workflows)

    assert report["started"] >= 1
    done = workflows.wait(workflows.execution_of(booking_id))
    assert done["status"] == "SUCCEEDED"
    assert workflows.booking(booking_id)["status"] == "CONFIRMED"
    assert workflows.seats_available(flight) == 2
    # run again: nothing left to do for it, and no second execution
    reconcile(workflows)
    assert executions_named(workflows, booking_id) == 1
    assert workflows.payment_statuses(booking_id) == ["CAPTURED"]


def test_a_cancellation_that_never_started_is_started_by_the_reconciler(workflows: Workflows) -> None:
    flight = workflows.add_flight(seats=3)
    booking_id, done = workflows.book(flight)
    assert done["status"] == "SUCCEEDED"
    workflows.faults({**START_FAILS, "function": CANCEL})
    cancelled = workflows.cancel_booking(booking_id)
    assert cancelled.status_code == 503, cancelled.text
    assert workflows.booking(booking_id)["status"] == "CANCELLING"
    workflows.clear_faults()
    workflows.age(booking_id)

    report = reconcile(workflows)

    assert report["started"] >= 1
    done = workflows.wait(workflows.execution_of(booking_id, "-cancellation"))
    assert done["status"] == "SUCCEEDED"
    booking = workflows.booking(booking_id)
    assert (booking["status"], booking["cancelReason"], booking["refunded"]) == (
        "CANCELLED",
        "CUSTOMER_CANCELLED",
        True,
    )
    assert workflows.seats_available(flight) == 3


def test_a_workflow_failed_at_a_compensation_is_redriven_from_that_step_and_ends_consistent(
    workflows: Workflows,
) -> None:
    # Given a declined card, and releaseSeat's runtime crashing (not a transient name: the
    # compensation has no catch, so the execution fails at the step, seat still held)
    flight = workflows.add_flight(seats=3)
    workflows.faults({"service": "lambda", "function": RELEASE, "error": "crash", "rate": 1.0})
    answer = workflows.post_booking(flight, "tok_chargeDeclined")
    booking_id = answer.json()["bookingId"]
    execution = workflows.execution_of(booking_id)
    failed = workflows.wait(execution)
    assert (failed["status"], failed["error"]) == ("FAILED", "Runtime.ExitError")
    assert failed["redriveStatus"] == "REDRIVABLE"
    assert workflows.booking(booking_id)["status"] == "PENDING"
    assert workflows.seats_available(flight) == 2  # the seat is still held
    workflows.clear_faults()
    workflows.age(booking_id)

    # When the reconciler runs
    report = reconcile(workflows)

    # Then it redrove the same execution from ReleaseSeat (reserve and authorize are not run again)
    assert report["redriven"] >= 1
    done = workflows.wait(execution)
    assert done["status"] == "SUCCEEDED"
    assert (done["executionArn"], done["redriveCount"]) == (execution, 1)
    after = states_after_redrive(workflows, execution)
    assert after[0] == "ReleaseSeat"
    assert "ReserveSeat" not in after
    assert "AuthorizePayment" not in after
    booking = workflows.booking(booking_id)
    assert (booking["status"], booking["cancelReason"]) == ("CANCELLED", "PAYMENT_DECLINED")
    assert workflows.seats_available(flight) == 3
    assert [e["event"]["eventType"] for e in workflows.events_for(booking_id)] == ["BookingCancelled"]
    assert executions_named(workflows, booking_id) == 1
    # and a redrive of an execution that succeeded is refused, as Step Functions refuses it
    sfn = workflows.cloud.client("stepfunctions")
    with pytest.raises(sfn.exceptions.ExecutionNotRedrivable):
        sfn.redrive_execution(executionArn=execution)


def test_an_aborted_execution_is_redriven_and_the_seat_is_held_once(workflows: Workflows) -> None:
    # Given an execution stopped by an operator while reserveSeat ran (a slow dependency)
    flight = workflows.add_flight(seats=3)
    workflows.faults({"service": "lambda", "function": RESERVE, "error": "latency", "latency_ms": 1500, "times": 1})
    answer = workflows.post_booking(flight, "tok_visa")
    booking_id = answer.json()["bookingId"]
    execution = workflows.execution_of(booking_id)
    workflows.wait_for_state(execution, "ReserveSeat")
    workflows.cloud.client("stepfunctions").stop_execution(executionArn=execution, error="Operator")
    assert workflows.wait(execution)["status"] == "ABORTED"
    workflows.age(booking_id)

    report = reconcile(workflows)

    # Then the same execution resumes at the step it stopped in; the reservation the aborted run
    # still made is found, not made twice
    assert report["redriven"] >= 1
    done = workflows.wait(execution)
    assert (done["status"], done["redriveCount"]) == ("SUCCEEDED", 1)
    assert states_after_redrive(workflows, execution)[0] == "ReserveSeat"
    assert workflows.booking(booking_id)["status"] == "CONFIRMED"
    assert workflows.seats_available(flight) == 2
    assert workflows.payment_statuses(booking_id) == ["CAPTURED"]
