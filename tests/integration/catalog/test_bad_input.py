"""Inputs a new user (or a fuzzer) sends that once answered 500: every one is now a documented 4xx."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.integration.catalog.test_catalog_api import ADMIN, CUSTOMER, api, call, create, new_flight, search
from tests.support.events import http_event

__all__ = ["api"]  # the fixture, re-used


def token(document: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode()


def assert_error(status: int, body: Any, expected: int) -> None:
    assert status == expected, body
    assert set(body) == {"code", "message", "details"}


@pytest.mark.parametrize(
    ("raw_body", "base64_encoded"),
    [
        (base64.b64encode(b"\xff\xfe{not utf-8}").decode(), True),
        ("%%% not base64 %%%", True),
        ('{"flightNumber": ', False),
    ],
    ids=["not-utf8", "not-base64", "truncated-json"],
)
def test_a_body_that_is_not_utf8_json_is_400(api: Any, raw_body: str, base64_encoded: bool) -> None:
    event = http_event("POST", "/flights", claims=ADMIN, body=raw_body)
    event["isBase64Encoded"] = base64_encoded
    status, body = call(api, event)
    assert_error(status, body, 400)


@pytest.mark.parametrize(
    "crafted",
    [
        token({"searchKey": "LHR#JFK#2026-12-01"}),  # a string where a key attribute is
        token({"searchKey": {"S": "LHR#JFK#2026-12-01"}}),  # half a key
        token({"searchKey": {"S": "LHR#JFK#2026-12-01"}, "flightId": {"N": "1"}, "departureTime": {"S": "x"}}),
        token({"searchKey": {"S": "LHR#JFK#2026-12-01"}, "flightId": {"S": ""}, "departureTime": {"S": "x"}}),
        token(["a", "list"]),
        "bm90IGpzb24",  # base64 of "not json"
    ],
)
def test_a_crafted_page_token_is_400(api: Any, crafted: str) -> None:
    create(api)
    status, body = search(api, **{"from": "LHR", "to": "JFK", "date": "2026-12-01", "nextToken": crafted})
    assert_error(status, body, 400)


@pytest.mark.parametrize("date", ["0999-01-01", "2027-01-01T00:00:00Z", "2027-1-1", "2100-01-01", "1999-12-31"])
def test_a_search_date_that_is_not_a_plain_date_in_the_window_is_422(api: Any, date: str) -> None:
    status, body = search(api, **{"from": "LHR", "to": "JFK", "date": date})
    assert_error(status, body, 422)


@pytest.mark.parametrize(
    "overrides",
    [
        {"departureTime": "0999-01-01T08:00:00Z", "arrivalTime": "0999-01-01T16:00:00Z"},
        {"departureTime": "0001-01-01T00:00:00-05:00", "arrivalTime": "0001-01-01T16:00:00Z"},
        {"departureTime": "2150-01-01T08:00:00Z", "arrivalTime": "2150-01-01T16:00:00Z"},
        {"ticketPrice": {"amount": 0, "currency": "EUR"}},
        {"ticketPrice": {"amount": "12050", "currency": "EUR"}},
        {"seatCapacity": "3"},
        {"flightNumber": 1234},
    ],
)
def test_a_flight_outside_the_window_free_or_wrongly_typed_is_refused(api: Any, overrides: dict[str, Any]) -> None:
    status, body = call(api, http_event("POST", "/flights", claims=ADMIN, body=new_flight(**overrides)))
    assert_error(status, body, 422)


@pytest.mark.parametrize(
    "change",
    [
        {"arrivalTime": "2026-12-01T07:00:00Z"},  # before the stored departure
        {"departureTime": "2026-12-01T17:00:00Z"},  # after the stored arrival
        {"arrivalTime": "0999-12-01T07:00:00Z"},
        {"ticketPrice": {"amount": 0, "currency": "EUR"}},
    ],
)
def test_an_update_that_makes_the_flight_arrive_before_it_departs_or_free_is_422_and_changes_nothing(
    api: Any, change: dict[str, Any]
) -> None:
    flight = create(api)
    path = f"/flights/{flight['flightId']}"

    status, body = call(
        api,
        http_event(
            "PUT",
            path,
            route="/flights/{flightId}",
            claims=ADMIN,
            body=change,
            path_parameters={"flightId": flight["flightId"]},
        ),
    )

    assert_error(status, body, 422)
    status, stored = call(
        api,
        http_event(
            "GET", path, route="/flights/{flightId}", claims=CUSTOMER, path_parameters={"flightId": flight["flightId"]}
        ),
    )
    assert (status, stored) == (200, flight)
