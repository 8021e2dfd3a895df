"""Fixtures of the workflow tests: one local workflow cloud per module, flights and bookings."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.workflow.harness import LocalWorkflowCloud, local_workflow_cloud


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalWorkflowCloud]:
    with local_workflow_cloud() as started:
        yield started


@pytest.fixture(autouse=True)
def _no_faults_left(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "cloud" in request.fixturenames:
        cloud = request.getfixturevalue("cloud")
        cloud.invoker.faults.clear()
        cloud.invoker.before.clear()
        cloud.moto.faults.clear()
        cloud.moto.real_conflicts = False


def add_flight(cloud: LocalWorkflowCloud, *, seats: int, price: int = 12050, currency: str = "EUR") -> str:
    """A flight in the catalog table, written by the catalog's own repository."""
    from handlers.catalog.dal import DynamoFlightRepository
    from handlers.catalog.models import Flight
    from handlers.shared.money import Money

    flight_id = f"FL-{uuid.uuid4().hex[:12]}"
    DynamoFlightRepository("airline-local-flights", cloud.client("dynamodb")).add(
        Flight(
            flightId=flight_id,
            flightNumber="AB1234",
            departureAirportCode="LHR",
            arrivalAirportCode="CDG",
            departureTime="2027-01-15T08:00:00Z",
            arrivalTime="2027-01-15T10:15:00Z",
            ticketPrice=Money(amount=price, currency=currency),
            seatCapacity=seats,
            seatsAvailable=seats,
        )
    )
    return flight_id


def seats_available(cloud: LocalWorkflowCloud, flight_id: str) -> int:
    item = cloud.client("dynamodb").get_item(
        TableName="airline-local-flights", Key={"flightId": {"S": flight_id}}, ConsistentRead=True
    )["Item"]
    return int(item["seatsAvailable"]["N"])


def post_booking(flight_id: str, token: str, *, customer: str = "customer-1", key: str | None = None) -> dict[str, Any]:
    """`POST /bookings` through the real API handler (which starts the execution on moto)."""
    from handlers.booking import api
    from tests.support.events import FakeLambdaContext, claims_for, http_event

    event = http_event(
        "POST",
        "/bookings",
        claims=claims_for(customer),
        body={"flightId": flight_id, "paymentToken": token},
        headers={"Idempotency-Key": key or f"key-{uuid.uuid4().hex}"},
    )
    answer: dict[str, Any] = api.handler(event, FakeLambdaContext(function_name="airline-booking-local-createBooking"))
    answer["json"] = json.loads(answer["body"])
    return answer


def booking_item(cloud: LocalWorkflowCloud, booking_id: str) -> dict[str, Any]:
    from handlers.booking.dal import from_item
    from handlers.shared.records import dump

    item = (
        cloud.client("dynamodb")
        .get_item(TableName="airline-local-bookings", Key={"bookingId": {"S": booking_id}}, ConsistentRead=True)
        .get("Item")
    )
    assert item, f"booking {booking_id} was not written"
    return dump(from_item(item))


def scan(cloud: LocalWorkflowCloud, table: str) -> list[dict[str, Any]]:
    dynamodb = cloud.client("dynamodb")
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = dynamodb.scan(**request)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def execution_of(cloud: LocalWorkflowCloud, booking_id: str, machine: str = "-workflow") -> str:
    return cloud.arn(machine).replace(":stateMachine:", ":execution:") + f":{booking_id}"
