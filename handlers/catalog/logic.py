"""Catalog rules, over models and a repository passed in (no boto3 here)."""

from __future__ import annotations

import uuid

from handlers.catalog.dal import FlightRepository
from handlers.catalog.models import Flight, FlightPage, FlightSearch, NewFlight, search_key
from handlers.shared.auth import Caller
from handlers.shared.errors import Forbidden, NotFound


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
