"""Seed flights for local runs and demos: a document of flights relative to a base date.

Used by `scripts/seed_flights.py` (any endpoint, through AWS_ENDPOINT_URL) and by
the `seedFlights` function (invoked directly with the document as its event).
Flight ids are `<flightNumber>-<YYYYMMDD>`, so seeding twice creates nothing new.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import field
from typing import Annotated, ClassVar

from handlers.catalog.models import FlightNumber, NewFlight, Seats
from handlers.catalog.ports import FlightRepository
from handlers.shared.errors import Conflict
from handlers.shared.money import Money
from handlers.shared.records import Extra, Rules, record


@record
class SeedFlight:
    """One flight of the seed document, scheduled relative to its base date."""

    EXTRA: ClassVar[Extra] = "forbid"

    flightNumber: FlightNumber
    departure: Annotated[str, Rules(alias="from", pattern=r"^[A-Z]{3}$")]
    arrival: Annotated[str, Rules(alias="to", pattern=r"^[A-Z]{3}$")]
    dayOffset: Annotated[int, Rules(strict=True, ge=0, le=365)]
    departureTime: Annotated[str, Rules(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]  # HH:MM UTC
    durationMinutes: Annotated[int, Rules(strict=True, ge=10, le=24 * 60)]
    ticketPrice: Money
    seatCapacity: Seats

    def flight_id(self, base_date: dt.date) -> str:
        return f"{self.flightNumber}-{(base_date + dt.timedelta(days=self.dayOffset)):%Y%m%d}"

    def to_new_flight(self, base_date: dt.date) -> NewFlight:
        day = base_date + dt.timedelta(days=self.dayOffset)
        departs = dt.datetime.combine(day, dt.time.fromisoformat(self.departureTime), tzinfo=dt.UTC)
        return NewFlight(
            flightNumber=self.flightNumber,
            departureAirportCode=self.departure,
            arrivalAirportCode=self.arrival,
            departureTime=departs,
            arrivalTime=departs + dt.timedelta(minutes=self.durationMinutes),
            ticketPrice=self.ticketPrice,
            seatCapacity=self.seatCapacity,
        )


@record
class SeedDocument:
    """The seed document: the flights to create, from a base date."""

    baseDate: dt.date | None = None  # default: today (UTC)
    flights: Annotated[list[SeedFlight], Rules(min_length=1, max_length=500)]


@record
class SeedResult:
    """How many seed flights were created, and how many existed already."""

    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)


def seed_flights(repository: FlightRepository, document: SeedDocument, today: dt.date | None = None) -> SeedResult:
    base = document.baseDate or today or dt.datetime.now(dt.UTC).date()
    result = SeedResult(created=[], existing=[])
    for seed in document.flights:
        flight_id = seed.flight_id(base)
        try:
            repository.add(seed.to_new_flight(base).to_flight(flight_id))
        except Conflict:
            result.existing.append(flight_id)
        else:
            result.created.append(flight_id)
    return result
