"""reserveSeat / releaseSeat / seedFlights and PUT /flights/{id}: the real handlers against moto tables
built from the packaged platform template."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from localcloud.deploy import create_platform_tables
from tests.support.events import FakeLambdaContext, claims_for, http_event
from tests.support.wiring import wired

FLIGHTS = "airline-local-flights"
RESERVATIONS = "airline-local-seat-reservations"
ADMIN = claims_for("admin-1", groups=["Admin"])
CUSTOMER = claims_for("customer-1")
DATE = "2026-12-01"


@pytest.fixture
def catalog(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("FLIGHTS_TABLE_NAME", FLIGHTS)
    monkeypatch.setenv("SEAT_RESERVATIONS_TABLE_NAME", RESERVATIONS)
    create_platform_tables(dynamodb, only={"FlightsTable", "SeatReservationsTable"})
    from handlers.catalog import tasks
    from handlers.catalog.config import CatalogConfig

    return wired(tasks, CatalogConfig)


def catalog_api() -> Any:
    from handlers.catalog import api
    from handlers.catalog.config import CatalogConfig

    return wired(api, CatalogConfig)


def create_flight(catalog: Any, capacity: int, **overrides: Any) -> str:
    body = {
        "flightNumber": "AB1234",
        "departureAirportCode": "LHR",
        "arrivalAirportCode": "JFK",
        "departureTime": f"{DATE}T08:00:00Z",
        "arrivalTime": f"{DATE}T16:00:00Z",
        "ticketPrice": {"amount": 12050, "currency": "EUR"},
        "seatCapacity": capacity,
        **overrides,
    }
    response = catalog_api().handler(http_event("POST", "/flights", claims=ADMIN, body=body), FakeLambdaContext())
    assert response["statusCode"] == 201, response["body"]
    flight_id: str = json.loads(response["body"])["flightId"]
    return flight_id


def reserve(catalog: Any, booking: str, flight: str) -> dict[str, Any]:
    result: dict[str, Any] = catalog.reserve_handler({"bookingId": booking, "flightId": flight}, FakeLambdaContext())
    return result


def release(catalog: Any, booking: str, flight: str) -> dict[str, Any]:
    result: dict[str, Any] = catalog.release_handler({"bookingId": booking, "flightId": flight}, FakeLambdaContext())
    return result


def flight_item(dynamodb: Any, flight_id: str) -> dict[str, Any]:
    item: dict[str, Any] = dynamodb.get_item(TableName=FLIGHTS, Key={"flightId": {"S": flight_id}})["Item"]
    return item


def seats_left(dynamodb: Any, flight_id: str) -> int:
    return int(flight_item(dynamodb, flight_id)["seatsAvailable"]["N"])


def searchable(flight_id: str) -> bool:
    event = http_event("GET", "/flights", claims=CUSTOMER, query={"from": "LHR", "to": "JFK", "date": DATE})
    page = json.loads(catalog_api().handler(event, FakeLambdaContext())["body"])
    return flight_id in [f["flightId"] for f in page["flights"]]


def test_reserving_until_sold_out_then_sold_out_is_raised_and_no_seat_goes_negative(
    catalog: Any, dynamodb: Any
) -> None:
    from handlers.catalog.errors import SoldOut

    flight = create_flight(catalog, capacity=3)

    answers = [reserve(catalog, f"booking-{n}", flight) for n in range(3)]

    assert [a["seatsAvailable"] for a in answers] == [2, 1, 0]
    assert answers[0] == {"bookingId": "booking-0", "flightId": flight, "seatsAvailable": 2}
    with pytest.raises(SoldOut):
        reserve(catalog, "booking-3", flight)
    assert seats_left(dynamodb, flight) == 0
    assert dynamodb.get_item(TableName=RESERVATIONS, Key={"bookingId": {"S": "booking-3"}}).get("Item") is None
    held = dynamodb.scan(TableName=RESERVATIONS)["Items"]
    assert sorted(i["bookingId"]["S"] for i in held) == ["booking-0", "booking-1", "booking-2"]
    assert {i["status"]["S"] for i in held} == {"HELD"}


def test_a_replayed_reservation_takes_no_second_seat_and_returns_the_first_result(catalog: Any, dynamodb: Any) -> None:
    flight = create_flight(catalog, capacity=2)

    first = reserve(catalog, "booking-1", flight)
    again = reserve(catalog, "booking-1", flight)

    assert first == again == {"bookingId": "booking-1", "flightId": flight, "seatsAvailable": 1}
    assert seats_left(dynamodb, flight) == 1


def test_a_replay_after_taking_the_last_seat_is_not_mistaken_for_sold_out(catalog: Any, dynamodb: Any) -> None:
    flight = create_flight(catalog, capacity=1)
    reserve(catalog, "booking-1", flight)

    # Given the task crashed after the write and Step Functions retries it
    again = reserve(catalog, "booking-1", flight)

    assert again["seatsAvailable"] == 0
    assert seats_left(dynamodb, flight) == 0


def test_a_sold_out_flight_leaves_the_search_index_and_returns_on_release(catalog: Any, dynamodb: Any) -> None:
    flight = create_flight(catalog, capacity=2)
    reserve(catalog, "booking-1", flight)
    assert searchable(flight)

    reserve(catalog, "booking-2", flight)

    assert "searchKey" not in flight_item(dynamodb, flight)
    assert not searchable(flight)

    assert release(catalog, "booking-2", flight)["released"] is True

    assert seats_left(dynamodb, flight) == 1
    assert searchable(flight)


def test_release_gives_the_seat_back_once_and_never_above_capacity(catalog: Any, dynamodb: Any) -> None:
    flight = create_flight(catalog, capacity=2)
    reserve(catalog, "booking-1", flight)

    assert release(catalog, "booking-1", flight) == {"bookingId": "booking-1", "flightId": flight, "released": True}
    assert release(catalog, "booking-1", flight)["released"] is False  # replay: nothing changes
    assert release(catalog, "never-reserved", flight)["released"] is False

    assert seats_left(dynamodb, flight) == 2
    item = dynamodb.get_item(TableName=RESERVATIONS, Key={"bookingId": {"S": "booking-1"}})["Item"]
    assert item["status"]["S"] == "RELEASED"


def test_a_release_naming_another_flight_changes_nothing(catalog: Any, dynamodb: Any) -> None:
    flight = create_flight(catalog, capacity=2)
    other = create_flight(catalog, capacity=2, flightNumber="AB999")
    reserve(catalog, "booking-1", flight)
    reserve(catalog, "booking-2", other)

    assert release(catalog, "booking-1", other)["released"] is False

    assert seats_left(dynamodb, flight) == 1
    assert seats_left(dynamodb, other) == 1


def test_a_released_booking_cannot_reserve_again_nor_reserve_another_flight(catalog: Any, dynamodb: Any) -> None:
    from handlers.catalog.errors import ReservationConflict

    flight = create_flight(catalog, capacity=2)
    other = create_flight(catalog, capacity=2, flightNumber="AB999")
    reserve(catalog, "booking-1", flight)

    with pytest.raises(ReservationConflict):
        reserve(catalog, "booking-1", other)
    release(catalog, "booking-1", flight)
    with pytest.raises(ReservationConflict):
        reserve(catalog, "booking-1", flight)

    assert seats_left(dynamodb, flight) == 2
    assert seats_left(dynamodb, other) == 2


def test_an_unknown_flight_is_flight_not_found(catalog: Any, dynamodb: Any) -> None:
    from handlers.catalog.errors import FlightNotFound

    with pytest.raises(FlightNotFound):
        reserve(catalog, "booking-1", "no-such-flight")
    assert dynamodb.scan(TableName=RESERVATIONS)["Count"] == 0


@pytest.mark.parametrize(
    "event",
    [
        {"flightId": "f-1"},
        {"bookingId": "b-1"},
        {"bookingId": "", "flightId": "f-1"},
        {"bookingId": "b 1", "flightId": "f-1"},
        {"bookingId": "b-1", "flightId": "f/1"},
        {"bookingId": 7, "flightId": "f-1"},
    ],
)
def test_malformed_task_input_is_invalid_seat_request(catalog: Any, event: dict[str, Any]) -> None:
    from handlers.catalog.errors import InvalidSeatRequest

    with pytest.raises(InvalidSeatRequest):
        catalog.reserve_handler(event, FakeLambdaContext())
    with pytest.raises(InvalidSeatRequest):
        catalog.release_handler(event, FakeLambdaContext())


def test_the_error_class_names_are_the_workflow_error_names() -> None:
    from handlers.catalog import errors

    assert errors.SoldOut.__name__ == "SoldOut"
    assert errors.FlightNotFound.__name__ == "FlightNotFound"


def put_flight(flight_id: str, body: Any, claims: dict[str, Any] = ADMIN) -> tuple[int, Any]:
    event = http_event(
        "PUT",
        f"/flights/{flight_id}",
        route="/flights/{flightId}",
        claims=claims,
        body=body,
        path_parameters={"flightId": flight_id},
    )
    response = catalog_api().handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def test_admin_updates_price_times_and_capacity_keeping_the_seats_taken(catalog: Any, dynamodb: Any) -> None:
    flight = create_flight(catalog, capacity=3)
    reserve(catalog, "booking-1", flight)

    status, body = put_flight(
        flight,
        {
            "ticketPrice": {"amount": 9900, "currency": "EUR"},
            "seatCapacity": 5,
            "departureTime": "2026-12-02T09:00:00+01:00",
            "arrivalTime": "2026-12-02T17:00:00Z",
        },
    )

    assert status == 200, body
    assert body["seatCapacity"] == 5
    assert body["seatsAvailable"] == 4  # one seat still held
    assert body["departureTime"] == "2026-12-02T08:00:00Z"
    item = flight_item(dynamodb, flight)
    assert item["searchKey"]["S"] == item["routeKey"]["S"] == "LHR#JFK#2026-12-02"
    assert int(item["priceAmount"]["N"]) == 9900
    assert int(item["seatsAvailable"]["N"]) == 4
    # the held seat is still releasable and the counter stays within capacity
    assert release(catalog, "booking-1", flight)["released"] is True
    assert seats_left(dynamodb, flight) == 5


def test_capacity_below_the_seats_taken_is_409_and_changes_nothing(catalog: Any, dynamodb: Any) -> None:
    flight = create_flight(catalog, capacity=3)
    reserve(catalog, "booking-1", flight)
    reserve(catalog, "booking-2", flight)

    status, body = put_flight(flight, {"seatCapacity": 1})

    assert status == 409
    assert body["code"] == "CONFLICT"
    assert seats_left(dynamodb, flight) == 1
    assert int(flight_item(dynamodb, flight)["seatCapacity"]["N"]) == 3


def test_capacity_down_to_the_seats_taken_sells_the_flight_out_of_search(catalog: Any, dynamodb: Any) -> None:
    flight = create_flight(catalog, capacity=3)
    reserve(catalog, "booking-1", flight)

    status, body = put_flight(flight, {"seatCapacity": 1})

    assert status == 200
    assert body["seatsAvailable"] == 0
    assert not searchable(flight)


@pytest.mark.parametrize(
    ("claims", "body", "expected"),
    [
        (CUSTOMER, {"seatCapacity": 10}, (403, "FORBIDDEN")),
        (ADMIN, {}, (422, "VALIDATION_ERROR")),
        (ADMIN, {"seatsAvailable": 10}, (422, "VALIDATION_ERROR")),
        (ADMIN, {"seatCapacity": 0}, (422, "VALIDATION_ERROR")),
        (ADMIN, {"ticketPrice": {"amount": 1.5, "currency": "EUR"}}, (422, "VALIDATION_ERROR")),
        (ADMIN, {"arrivalTime": "2026-12-01T07:00:00Z"}, (422, "VALIDATION_ERROR")),
        (ADMIN, "{not json", (400, "MALFORMED_REQUEST")),
    ],
)
def test_bad_updates_are_4xx_and_change_nothing(
    catalog: Any, dynamodb: Any, claims: dict[str, Any], body: Any, expected: tuple[int, str]
) -> None:
    flight = create_flight(catalog, capacity=3)
    before = flight_item(dynamodb, flight)

    got, answer = put_flight(flight, body, claims)

    assert (got, answer["code"]) == expected
    assert set(answer) == {"code", "message", "details"}
    assert flight_item(dynamodb, flight) == before


def test_updating_an_unknown_flight_is_404(catalog: Any) -> None:
    status, body = put_flight("nope", {"seatCapacity": 4})
    assert (status, body["code"]) == (404, "NOT_FOUND")


def test_seed_function_loads_the_seed_file_once(catalog: Any, dynamodb: Any) -> None:
    from localcloud.packaging import ROOT

    document = json.loads((ROOT / "data" / "seed-flights.json").read_text())
    document["baseDate"] = "2026-12-01"

    first = catalog.seed_handler(document, FakeLambdaContext())
    second = catalog.seed_handler(document, FakeLambdaContext())

    assert len(first["created"]) == len(document["flights"]) >= 15
    assert first["existing"] == []
    assert second["created"] == []
    assert sorted(second["existing"]) == sorted(first["created"])
    assert dynamodb.scan(TableName=FLIGHTS)["Count"] == len(document["flights"])
    tiny = flight_item(dynamodb, "AB9001-20261202")
    assert int(tiny["seatCapacity"]["N"]) <= 2


def test_seed_function_refuses_a_bad_document(catalog: Any, dynamodb: Any) -> None:
    from handlers.shared.errors import InvalidInput

    with pytest.raises(InvalidInput):
        catalog.seed_handler({"flights": [{"flightNumber": "x"}]}, FakeLambdaContext())
    assert dynamodb.scan(TableName=FLIGHTS)["Count"] == 0


def test_seed_script_loads_through_any_endpoint(tmp_path: Any) -> None:
    """The script against a real moto server, as a developer runs it against the local cloud."""
    import boto3
    from moto.server import ThreadedMotoServer

    from localcloud.deploy import create_platform_tables as make
    from localcloud.packaging import ROOT

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="eu-west-1")
        make(client, only={"FlightsTable"})
        env = {
            "PATH": "/usr/bin:/bin",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        args = [sys.executable, str(ROOT / "scripts" / "seed_flights.py"), "--table", FLIGHTS, "--base-date", DATE]
        run = subprocess.run(args, env=env, capture_output=True, text=True, check=False, timeout=120)
        assert run.returncode == 0, run.stderr
        summary = json.loads(run.stdout.strip().splitlines()[-1])
        assert summary["table"] == FLIGHTS
        assert summary["created"] == client.scan(TableName=FLIGHTS)["Count"] >= 15
    finally:
        server.stop()
