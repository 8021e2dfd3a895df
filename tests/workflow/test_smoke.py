"""Smoke test of the harness: the sold-out path needs only catalog and booking."""

from __future__ import annotations

from tests.workflow.conftest import add_flight, booking_item, execution_of, post_booking, seats_available
from tests.workflow.harness import LocalWorkflowCloud


def test_sold_out_flight_cancels_the_booking_with_sold_out(cloud: LocalWorkflowCloud) -> None:
    flight = add_flight(cloud, seats=0)
    answer = post_booking(flight, "tok_visa")
    assert answer["statusCode"] == 202, answer
    booking_id = answer["json"]["bookingId"]
    done = cloud.wait(execution_of(cloud, booking_id))
    assert done["status"] == "SUCCEEDED", cloud.history(done["executionArn"])[-3:]
    booking = booking_item(cloud, booking_id)
    assert booking["status"] == "CANCELLED"
    assert booking["cancelReason"] == "SOLD_OUT"
    assert seats_available(cloud, flight) == 0
    events = cloud.published_events()
    assert [e["event"]["eventType"] for e in events] == ["BookingCancelled"]
