"""The catalog logic's ports: the flights and the seat inventory, as Protocols (the adapters live in dal.py)."""

from __future__ import annotations

from typing import Protocol

from handlers.catalog.models import Flight, FlightPage, SeatReleased, SeatRequest, SeatReserved


class FlightRepository(Protocol):
    def add(self, flight: Flight) -> None: ...

    def get(self, flight_id: str) -> Flight | None: ...

    def search(self, key: str, limit: int, next_token: str | None) -> FlightPage: ...

    def replace(self, old: Flight, new: Flight) -> bool: ...


class SeatInventory(Protocol):
    def reserve(self, request: SeatRequest) -> SeatReserved: ...

    def release(self, request: SeatRequest) -> SeatReleased: ...
