"""The catalog's real handler, with API Gateway v2 events, against moto tables built from the platform template."""

from __future__ import annotations

import json
from typing import Any

import pytest

from localcloud.deploy import create_platform_tables
from tests.support.events import FakeLambdaContext, claims_for, http_event
from tests.support.wiring import wired

ADMIN = claims_for("admin-1", groups=["Admin"])
CUSTOMER = claims_for("customer-1")


def new_flight(**overrides: Any) -> dict[str, Any]:
    flight = {
        "flightNumber": "AB1234",
        "departureAirportCode": "LHR",
        "arrivalAirportCode": "JFK",
        "departureTime": "2026-12-01T08:00:00Z",
        "arrivalTime": "2026-12-01T16:00:00Z",
        "ticketPrice": {"amount": 12050, "currency": "EUR"},
        "seatCapacity": 3,
    }
    flight.update(overrides)
    return flight


@pytest.fixture
def api(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("FLIGHTS_TABLE_NAME", "airline-local-flights")
    create_platform_tables(dynamodb, only={"FlightsTable"})
    from handlers.catalog import api as catalog_api
    from handlers.catalog.config import CatalogConfig

    return wired(catalog_api, CatalogConfig)


def call(api: Any, event: dict[str, Any]) -> tuple[int, Any]:
    response = api.handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def create(api: Any, **overrides: Any) -> dict[str, Any]:
    status, body = call(api, http_event("POST", "/flights", claims=ADMIN, body=new_flight(**overrides)))
    assert status == 201, body
    return body


def search(api: Any, **query: str) -> tuple[int, Any]:
    return call(api, http_event("GET", "/flights", claims=CUSTOMER, query=query))


def test_admin_creates_a_flight_that_customers_find(api: Any) -> None:
    created = create(api)
    assert created["seatsAvailable"] == 3
    assert created["ticketPrice"] == {"amount": 12050, "currency": "EUR"}

    status, page = search(api, **{"from": "LHR", "to": "JFK", "date": "2026-12-01"})

    assert status == 200
    assert [f["flightId"] for f in page["flights"]] == [created["flightId"]]
    assert page["nextToken"] is None


def test_a_customer_outside_admin_cannot_create_a_flight(api: Any, dynamodb: Any) -> None:
    status, body = call(api, http_event("POST", "/flights", claims=CUSTOMER, body=new_flight()))

    assert status == 403
    assert body["code"] == "FORBIDDEN"
    assert dynamodb.scan(TableName="airline-local-flights")["Count"] == 0


def test_a_request_without_claims_is_unauthorized(api: Any) -> None:
    status, body = call(api, http_event("GET", "/flights", query={"from": "LHR", "to": "JFK", "date": "2026-12-01"}))
    assert status == 401
    assert body["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "lhr", "to": "JFK", "date": "2026-12-01"}, "query.from"),
        ({"from": "LHR", "to": "JF", "date": "2026-12-01"}, "query.to"),
        ({"from": "LHR", "to": "JFK", "date": "2026-13-01"}, "query.date"),
        ({"from": "LHR", "to": "JFK"}, "query.date"),
        ({"from": "LHR", "to": "JFK", "date": "2026-12-01", "limit": "0"}, "query.limit"),
        ({"from": "LHR", "to": "JFK", "date": "2026-12-01", "limit": "many"}, "query.limit"),
        ({"from": "LHR", "to": "JFK", "date": "2026-12-01", "sort": "price"}, "query.sort"),
    ],
)
def test_malformed_search_parameters_are_422_naming_the_field(api: Any, query: dict[str, str], field: str) -> None:
    status, body = search(api, **query)

    assert status == 422
    assert body["code"] == "VALIDATION_ERROR"
    assert field in [detail["field"] for detail in body["details"]]


def test_a_forged_page_token_is_400(api: Any) -> None:
    status, body = search(api, **{"from": "LHR", "to": "JFK", "date": "2026-12-01", "nextToken": "not-base64!"})
    assert status == 400
    assert body["code"] == "MALFORMED_REQUEST"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (new_flight(seatCapacity="3"), 422, "body.seatCapacity"),
        (new_flight(seatCapacity=0), 422, "body.seatCapacity"),
        (new_flight(ticketPrice={"amount": 120.5, "currency": "EUR"}), 422, "body.ticketPrice.amount"),
        (new_flight(departureAirportCode="London"), 422, "body.departureAirportCode"),
        (new_flight(arrivalTime="2026-12-01T07:00:00Z"), 422, "body"),
        (new_flight(departureTime="2026-12-01T08:00:00"), 422, "body.departureTime"),
        ({**new_flight(), "seatsAvailable": 500}, 422, "body.seatsAvailable"),
    ],
)
def test_an_invalid_flight_is_refused_and_nothing_is_written(
    api: Any, dynamodb: Any, body: Any, status: int, field: str
) -> None:
    got_status, answer = call(api, http_event("POST", "/flights", claims=ADMIN, body=body))

    assert got_status == status
    assert field in [detail["field"] for detail in answer["details"]]
    assert dynamodb.scan(TableName="airline-local-flights")["Count"] == 0


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", "x" * 20_000])
def test_a_malformed_or_huge_body_is_4xx(api: Any, raw: str) -> None:
    status, body = call(api, http_event("POST", "/flights", claims=ADMIN, body=raw))
    assert status in (400, 413)
    assert body["code"] in ("MALFORMED_REQUEST", "PAYLOAD_TOO_LARGE")


def test_search_pages_are_full_and_leave_sold_out_flights_out(api: Any, dynamodb: Any) -> None:
    ids = [
        create(api, departureTime=f"2026-12-01T{hour:02d}:00:00Z", arrivalTime="2026-12-01T23:00:00Z")["flightId"]
        for hour in range(5, 10)
    ]
    # Given one flight sold out (what the booking workflow's seat reservation does)
    dynamodb.update_item(
        TableName="airline-local-flights",
        Key={"flightId": {"S": ids[1]}},
        UpdateExpression="SET seatsAvailable = :zero REMOVE searchKey",
        ExpressionAttributeValues={":zero": {"N": "0"}},
    )

    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        query = {"from": "LHR", "to": "JFK", "date": "2026-12-01", "limit": "2"}
        if token:
            query["nextToken"] = token
        status, page = search(api, **query)
        assert status == 200
        pages += 1
        seen += [f["flightId"] for f in page["flights"]]
        token = page["nextToken"]
        if not token:
            break
        assert len(page["flights"]) == 2  # never short because of a filter

    assert seen == [ids[0], ids[2], ids[3], ids[4]]
    assert pages <= 3


def test_get_flight_by_id_and_unknown_flight_is_404(api: Any) -> None:
    created = create(api)
    status, body = call(
        api,
        http_event(
            "GET",
            f"/flights/{created['flightId']}",
            route="/flights/{flightId}",
            claims=CUSTOMER,
            path_parameters={"flightId": created["flightId"]},
        ),
    )
    assert status == 200
    assert body["flightId"] == created["flightId"]

    status, body = call(
        api,
        http_event(
            "GET", "/flights/nope", route="/flights/{flightId}", claims=CUSTOMER, path_parameters={"flightId": "nope"}
        ),
    )
    assert status == 404
    assert body["code"] == "NOT_FOUND"
