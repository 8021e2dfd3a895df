"""Catalog models: what a flight is, how it is searched and created."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Annotated, ClassVar

from handlers.shared.errors import Conflict, InvalidInput
from handlers.shared.ids import BookingId
from handlers.shared.money import Money
from handlers.shared.records import Extra, Rules, record

# Every model here is a checked record (handlers/shared/records.py): no catalog function imports pydantic.
AirportCode = Annotated[str, Rules(pattern=r"^[A-Z]{3}$")]  # IATA airport code
FLIGHT_ID_PATTERN = re.compile(r"[A-Za-z0-9-]{1,64}")
FlightId = Annotated[str, Rules(pattern=f"^{FLIGHT_ID_PATTERN.pattern}$")]
FlightNumber = Annotated[str, Rules(pattern=r"^[A-Z0-9]{2}[0-9]{1,4}$")]
MAX_SEATS = 1000
Seats = Annotated[int, Rules(strict=True, ge=1, le=MAX_SEATS)]


# Flights are scheduled in a sane window; outside it a date is a typo (year 0202) or an attack
# (year 1: `%Y` is not zero-padded before 1000, and astimezone() can overflow).
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def _utc_text(moment: dt.datetime) -> str:
    """Fixed-width UTC text (`YYYY-MM-DDTHH:MM:SSZ`): text order is time order."""
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _in_window(moment: dt.datetime) -> None:
    if not (EARLIEST <= moment < LATEST):
        raise ValueError(f"must be between {EARLIEST.date()} and {LATEST.date()}")


def _date_in_window(day: dt.date) -> None:
    if not (EARLIEST.date() <= day < LATEST.date()):
        raise ValueError(f"must be between {EARLIEST.date()} and {LATEST.date()}")


def _positive_price(price: Money) -> None:
    if price.amount < 1:
        raise ValueError("must be above zero: a flight nobody can pay for cannot be booked")


# A date-time with its zone; `format: date` means YYYY-MM-DD, not a date-time that happens to be midnight.
ScheduledTime = Annotated[dt.datetime, Rules(aware=True, check=_in_window)]
TicketPrice = Annotated[Money, Rules(check=_positive_price)]
SearchDate = Annotated[dt.date, Rules(check=_date_in_window)]


def search_key(departure_airport: str, arrival_airport: str, departure_date: dt.date) -> str:
    """Key of the sparse search index: present only while the flight has seats."""
    return f"{departure_airport}#{arrival_airport}#{departure_date.isoformat()}"


@record
class Flight:
    """A scheduled flight with its price and the seats still for sale."""

    flightId: FlightId
    flightNumber: FlightNumber
    departureAirportCode: AirportCode
    arrivalAirportCode: AirportCode
    departureTime: str
    arrivalTime: str
    ticketPrice: Money
    seatCapacity: Annotated[int, Rules(strict=True)]
    seatsAvailable: Annotated[int, Rules(strict=True)]

    @property
    def departure_date(self) -> dt.date:
        return dt.date.fromisoformat(self.departureTime[:10])


@record
class NewFlight:
    """Body of `POST /flights` (Admin)."""

    EXTRA: ClassVar[Extra] = "forbid"

    flightNumber: FlightNumber
    departureAirportCode: AirportCode
    arrivalAirportCode: AirportCode
    departureTime: ScheduledTime
    arrivalTime: ScheduledTime
    ticketPrice: TicketPrice
    seatCapacity: Seats

    def __post_init__(self) -> None:
        if self.arrivalAirportCode == self.departureAirportCode:
            raise ValueError("arrivalAirportCode must differ from departureAirportCode")
        if self.arrivalTime <= self.departureTime:
            raise ValueError("arrivalTime must be after departureTime")

    def to_flight(self, flight_id: str) -> Flight:
        return Flight(
            flightId=flight_id,
            flightNumber=self.flightNumber,
            departureAirportCode=self.departureAirportCode,
            arrivalAirportCode=self.arrivalAirportCode,
            departureTime=_utc_text(self.departureTime),
            arrivalTime=_utc_text(self.arrivalTime),
            ticketPrice=self.ticketPrice,
            seatCapacity=self.seatCapacity,
            seatsAvailable=self.seatCapacity,
        )


@record
class FlightSearch:
    """Query of `GET /flights`; `from` is a Python keyword, hence the alias."""

    EXTRA: ClassVar[Extra] = "forbid"

    departure: Annotated[str, Rules(alias="from", pattern=r"^[A-Z]{3}$")]
    arrival: Annotated[str, Rules(alias="to", pattern=r"^[A-Z]{3}$")]
    date: SearchDate
    limit: Annotated[int, Rules(ge=1, le=50)] = 20
    nextToken: Annotated[str, Rules(max_length=2048)] | None = None


@record
class FlightPage:
    """One page of flights found, and the token of the next page."""

    flights: list[Flight]
    nextToken: str | None = None


@record
class FlightUpdate:
    """Body of `PUT /flights/{flightId}` (Admin): the fields that may change.

    The route (airports) and the flight number stay; a new capacity must still
    hold every seat already taken (`seatCapacity - seatsAvailable`).
    """

    EXTRA: ClassVar[Extra] = "forbid"

    departureTime: ScheduledTime | None = None
    arrivalTime: ScheduledTime | None = None
    ticketPrice: TicketPrice | None = None
    seatCapacity: Seats | None = None

    def __post_init__(self) -> None:
        if all(getattr(self, f.name) is None for f in dataclasses.fields(self)):
            raise ValueError("give at least one of departureTime, arrivalTime, ticketPrice, seatCapacity")

    def apply_to(self, flight: Flight) -> Flight:
        """The flight after this change: 422 for incoherent times, 409 for a capacity below the seats taken."""
        departure = _utc_text(self.departureTime) if self.departureTime else flight.departureTime
        arrival = _utc_text(self.arrivalTime) if self.arrivalTime else flight.arrivalTime
        if arrival <= departure:  # same fixed-width UTC format: text order is time order
            issue = {"field": "body", "issue": "arrivalTime must be after departureTime"}
            raise InvalidInput("arrivalTime must be after departureTime", details=[issue])
        capacity = flight.seatCapacity if self.seatCapacity is None else self.seatCapacity
        taken = flight.seatCapacity - flight.seatsAvailable
        if capacity < taken:
            raise Conflict(f"seatCapacity {capacity} is below the {taken} seats already taken")
        return dataclasses.replace(
            flight,
            departureTime=departure,
            arrivalTime=arrival,
            ticketPrice=self.ticketPrice or flight.ticketPrice,
            seatCapacity=capacity,
            seatsAvailable=capacity - taken,
        )


@record
class SeatRequest:
    """Input of the workflow tasks `reserveSeat` and `releaseSeat` (a checked record; extra keys ignored)."""

    bookingId: BookingId
    flightId: FlightId


@record
class SeatReserved:
    """Output of the ReserveSeat task: the seat held for the booking."""

    bookingId: str
    flightId: str
    seatsAvailable: int


@record
class SeatReleased:
    """Output of the ReleaseSeat task: whether a held seat went back on sale."""

    bookingId: str
    flightId: str
    released: bool
