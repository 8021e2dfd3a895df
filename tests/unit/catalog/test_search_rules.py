"""Search rules of the catalog: index keys, page tokens, flight validation."""

from __future__ import annotations

import datetime as dt

import pytest

from handlers.catalog.dal import decode_token, encode_token
from handlers.catalog.models import FlightSearch, NewFlight, search_key
from handlers.shared.errors import MalformedRequest
from handlers.shared.records import RecordError, parse


def test_the_search_key_is_route_and_date() -> None:
    assert search_key("LHR", "JFK", dt.date(2026, 12, 1)) == "LHR#JFK#2026-12-01"


def test_a_page_token_round_trips_for_its_own_search_only() -> None:
    last_key = {"searchKey": {"S": "LHR#JFK#2026-12-01"}, "flightId": {"S": "f-1"}, "departureTime": {"S": "x"}}
    token = encode_token(last_key)
    assert token is not None
    assert decode_token(token, "LHR#JFK#2026-12-01") == last_key
    with pytest.raises(MalformedRequest):
        decode_token(token, "LHR#CDG#2026-12-01")
    assert encode_token(None) is None
    assert decode_token(None, "any") is None


@pytest.mark.parametrize("token", ["%%%", "bm90IGpzb24", "WzEsMl0="])
def test_a_token_this_api_did_not_issue_is_malformed(token: str) -> None:
    with pytest.raises(MalformedRequest):
        decode_token(token, "LHR#JFK#2026-12-01")


def test_search_reads_from_as_an_alias_and_bounds_the_limit() -> None:
    query = parse(FlightSearch, {"from": "LHR", "to": "JFK", "date": "2026-12-01"})
    assert (query.departure, query.arrival, query.limit) == ("LHR", "JFK", 20)
    with pytest.raises(RecordError):
        parse(FlightSearch, {"from": "LHR", "to": "JFK", "date": "2026-12-01", "limit": "51"})


def new_flight(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "flightNumber": "AB1234",
        "departureAirportCode": "LHR",
        "arrivalAirportCode": "JFK",
        "departureTime": "2026-12-01T08:00:00+01:00",
        "arrivalTime": "2026-12-01T16:00:00Z",
        "ticketPrice": {"amount": 12050, "currency": "EUR"},
        "seatCapacity": 150,
    }
    fields.update(overrides)
    return fields


def test_a_new_flight_starts_full_with_utc_times() -> None:
    flight = parse(NewFlight, new_flight()).to_flight("f-1")
    assert flight.seatsAvailable == flight.seatCapacity == 150
    assert flight.departureTime == "2026-12-01T07:00:00Z"
    assert flight.departure_date == dt.date(2026, 12, 1)


@pytest.mark.parametrize(
    "overrides",
    [
        {"arrivalAirportCode": "LHR"},
        {"arrivalTime": "2026-12-01T07:00:00Z"},
        {"seatCapacity": 1001},
        {"flightNumber": "ab12"},
        {"departureTime": "2026-12-01T08:00:00"},
    ],
)
def test_an_incoherent_flight_is_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(RecordError):
        parse(NewFlight, new_flight(**overrides))
