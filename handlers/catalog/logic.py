"""Catalog rules, over models and a repository passed in (no boto3 here)."""

from __future__ import annotations

import uuid
from typing import Any

from handlers.catalog.errors import InvalidSeatRequest
from handlers.catalog.models import (
    Flight,
    FlightPage,
    FlightSearch,
    FlightUpdate,
    NewFlight,
    SeatReleased,
    SeatRequest,
    SeatReserved,
    search_key,
)
from handlers.catalog.ports import FlightRepository, SeatInventory
from handlers.shared.auth import Caller
from handlers.shared.errors import Conflict, Forbidden, NotFound
from handlers.shared.tasks import parse_task_input

UPDATE_ATTEMPTS = 3


def search_flights(repository: FlightRepository, query: FlightSearch) -> FlightPage:
    key = search_key(query.departure, query.arrival, query.date)
    return repository.search(key, query.limit, query.nextToken)


def get_flight(repository: FlightRepository, flight_id: str) -> Flight:
    flight = repository.get(flight_id)
    if flight is None:
        raise NotFound(f"Flight {flight_id} does not exist")
    return flight


def ensure_may_manage_flights(caller: Caller) -> None:
    if not caller.is_admin:
        raise Forbidden("Only members of the Admin group may manage flights")


def create_flight(repository: FlightRepository, caller: Caller, new_flight: NewFlight) -> Flight:
    ensure_may_manage_flights(caller)
    flight = new_flight.to_flight(flight_id=str(uuid.uuid4()))
    repository.add(flight)
    return flight


def update_flight(repository: FlightRepository, caller: Caller, flight_id: str, change: FlightUpdate) -> Flight:
    """Apply an admin's change; optimistic: retried when a seat moved meanwhile, else 409."""
    ensure_may_manage_flights(caller)
    for _ in range(UPDATE_ATTEMPTS):
        current = get_flight(repository, flight_id)
        updated = change.apply_to(current)
        if repository.replace(current, updated):
            return updated
    raise Conflict(f"Flight {flight_id} changed while it was being updated; try again")


def seat_request(payload: Any) -> SeatRequest:
    return parse_task_input(SeatRequest, payload, InvalidSeatRequest, "seat request")


def reserve_seat(inventory: SeatInventory, payload: Any) -> SeatReserved:
    return inventory.reserve(seat_request(payload))


def release_seat(inventory: SeatInventory, payload: Any) -> SeatReleased:
    return inventory.release(seat_request(payload))
