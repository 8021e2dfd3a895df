"""Seat and flight-change rules of the catalog, with an in-memory repository (no AWS)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
from typing import Any

import pytest

from handlers.catalog import logic
from handlers.catalog.dal import _to_item
from handlers.catalog.errors import InvalidSeatRequest
from handlers.catalog.models import Flight, FlightPage, FlightUpdate
from handlers.catalog.seed import SeedDocument, SeedFlight, seed_flights
from handlers.shared.auth import Caller
from handlers.shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from handlers.shared.records import RecordError, parse

ADMIN = Caller(customer_id="admin", groups=frozenset({"Admin"}))
CUSTOMER = Caller(customer_id="someone")


def flight(capacity: int = 10, available: int = 10, **overrides: Any) -> Flight:
    fields: dict[str, Any] = {
        "flightId": "f-1",
        "flightNumber": "AB1",
        "departureAirportCode": "LHR",
        "arrivalAirportCode": "JFK",
        "departureTime": "2026-12-01T08:00:00Z",
        "arrivalTime": "2026-12-01T16:00:00Z",
        "ticketPrice": {"amount": 100, "currency": "EUR"},
        "seatCapacity": capacity,
        "seatsAvailable": available,
    }
    fields.update(overrides)
    return parse(Flight, fields)


class MemoryFlights:
    """The FlightRepository port in memory; `interfere` simulates writes racing in between."""

    def __init__(self, *flights: Flight, interfere: int = 0) -> None:
        self.items = {f.flightId: f for f in flights}
        self.interfere = interfere
        self.replaces = 0

    def add(self, new: Flight) -> None:
        if new.flightId in self.items:
            raise Conflict("exists")
        self.items[new.flightId] = new

    def get(self, flight_id: str) -> Flight | None:
        return self.items.get(flight_id)

    def search(self, key: str, limit: int, next_token: str | None) -> FlightPage:
        raise NotImplementedError

    def replace(self, old: Flight, new: Flight) -> bool:
        self.replaces += 1
        if self.interfere:
            self.interfere -= 1  # someone took a seat meanwhile
            current = self.items[old.flightId]
            self.items[old.flightId] = dataclasses.replace(current, seatsAvailable=current.seatsAvailable - 1)
            return False
        if self.items.get(old.flightId) != old:
            return False
        self.items[old.flightId] = new
        return True


CAPACITY_CASES = [
    (capacity, available, new_capacity)
    for capacity, available, new_capacity in itertools.product([1, 5, 10], range(11), [1, 3, 10, 20])
    if available <= capacity
]


@pytest.mark.parametrize(("capacity", "available", "new_capacity"), CAPACITY_CASES)
def test_a_capacity_change_keeps_the_taken_seats_or_is_refused(
    capacity: int, available: int, new_capacity: int
) -> None:
    before = flight(capacity, available)
    taken = capacity - available
    if new_capacity < taken:
        with pytest.raises(Conflict):
            FlightUpdate(seatCapacity=new_capacity).apply_to(before)
        return
    after = FlightUpdate(seatCapacity=new_capacity).apply_to(before)
    assert 0 <= after.seatsAvailable <= after.seatCapacity == new_capacity
    assert after.seatCapacity - after.seatsAvailable == taken


def test_times_are_normalised_to_utc_and_must_stay_ordered() -> None:
    after = parse(FlightUpdate, {"departureTime": "2026-12-01T10:00:00+02:00"}).apply_to(flight())
    assert after.departureTime == "2026-12-01T08:00:00Z"
    with pytest.raises(InvalidInput):
        parse(FlightUpdate, {"departureTime": "2026-12-01T17:00:00Z"}).apply_to(flight())


@pytest.mark.parametrize("body", [{}, {"seatsAvailable": 3}, {"seatCapacity": 0}, {"flightNumber": "AB2"}])
def test_an_update_body_must_change_something_allowed(body: dict[str, Any]) -> None:
    with pytest.raises(RecordError):
        parse(FlightUpdate, body)


def test_update_retries_when_a_seat_moved_meanwhile_and_keeps_that_seat() -> None:
    repository = MemoryFlights(flight(10, 10), interfere=1)

    updated = logic.update_flight(repository, ADMIN, "f-1", FlightUpdate(seatCapacity=12))

    assert repository.replaces == 2
    assert updated.seatCapacity == 12
    assert updated.seatsAvailable == 11  # the seat taken in between is still taken
    assert repository.items["f-1"] == updated


def test_update_gives_up_with_409_when_the_flight_keeps_changing() -> None:
    repository = MemoryFlights(flight(10, 10), interfere=10)
    with pytest.raises(Conflict):
        logic.update_flight(repository, ADMIN, "f-1", FlightUpdate(seatCapacity=12))
    assert repository.replaces == logic.UPDATE_ATTEMPTS


def test_only_admins_update_and_unknown_flights_are_404() -> None:
    repository = MemoryFlights(flight())
    with pytest.raises(Forbidden):
        logic.update_flight(repository, CUSTOMER, "f-1", FlightUpdate(seatCapacity=12))
    with pytest.raises(NotFound):
        logic.update_flight(repository, ADMIN, "nope", FlightUpdate(seatCapacity=12))


@pytest.mark.parametrize(("available", "indexed"), [(0, False), (1, True), (10, True)])
def test_only_a_flight_with_seats_carries_the_search_key_but_every_flight_keeps_its_route_key(
    available: int, indexed: bool
) -> None:
    item = _to_item(flight(10, available))
    assert item["routeKey"] == {"S": "LHR#JFK#2026-12-01"}
    assert ("searchKey" in item) is indexed


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "b-1",
        [],
        {"bookingId": "b-1"},
        {"bookingId": "b-1", "flightId": ""},
        {"bookingId": "x" * 200, "flightId": "f"},
    ],
)
def test_a_seat_request_needs_a_booking_and_a_flight(payload: Any) -> None:
    with pytest.raises(InvalidSeatRequest):
        logic.seat_request(payload)


def test_a_seat_request_ignores_what_else_the_workflow_passes() -> None:
    request = logic.seat_request({"bookingId": "b-1", "flightId": "f-1", "customerId": "c"})
    assert (request.bookingId, request.flightId) == ("b-1", "f-1")


def test_seed_flights_are_dated_from_the_base_date_and_may_land_the_next_day() -> None:
    seed = parse(
        SeedFlight,
        {
            "flightNumber": "AB7",
            "from": "JFK",
            "to": "LHR",
            "dayOffset": 2,
            "departureTime": "23:30",
            "durationMinutes": 420,
            "ticketPrice": {"amount": 1, "currency": "USD"},
            "seatCapacity": 2,
        },
    )
    base = dt.date(2026, 12, 30)
    new = seed.to_new_flight(base).to_flight(seed.flight_id(base))
    assert new.flightId == "AB7-20270101"
    assert (new.departureTime, new.arrivalTime) == ("2027-01-01T23:30:00Z", "2027-01-02T06:30:00Z")
    assert new.seatsAvailable == new.seatCapacity == 2


def test_seeding_twice_creates_nothing_new() -> None:
    from localcloud.packaging import ROOT

    document = parse(SeedDocument, json.loads((ROOT / "data" / "seed-flights.json").read_text()))
    repository = MemoryFlights()

    first = seed_flights(repository, document, today=dt.date(2026, 12, 1))
    second = seed_flights(repository, document, today=dt.date(2026, 12, 1))

    assert len(first.created) == len(document.flights)
    assert not first.existing
    assert not second.created
    assert sorted(second.existing) == sorted(first.created)
    routes = {(f.departureAirportCode, f.arrivalAirportCode) for f in repository.items.values()}
    assert len(routes) >= 3
    assert min(f.seatCapacity for f in repository.items.values()) <= 2  # the sold-out demo flight
