"""Catalog models: what a flight is, how it is searched and created."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    model_validator,
)

from handlers.shared.errors import Conflict, InvalidInput
from handlers.shared.money import Money
from handlers.shared.records import Rules

AirportCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="IATA airport code")]
FLIGHT_ID_PATTERN = re.compile(r"[A-Za-z0-9-]{1,64}")
FlightId = Annotated[str, Rules(pattern=f"^{FLIGHT_ID_PATTERN.pattern}$")]
FlightNumber = Annotated[str, Field(pattern=r"^[A-Z0-9]{2}[0-9]{1,4}$")]
BookingId = Annotated[str, Rules(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]
MAX_SEATS = 1000


# Flights are scheduled in a sane window; outside it a date is a typo (year 0202) or an attack
# (year 1: `%Y` is not zero-padded before 1000, and astimezone() can overflow).
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def _utc_text(moment: dt.datetime) -> str:
    """Fixed-width UTC text (`YYYY-MM-DDTHH:MM:SSZ`): text order is time order."""
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _in_window(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is not None and not (EARLIEST <= moment < LATEST):
        raise ValueError(f"must be between {EARLIEST.date()} and {LATEST.date()}")
    return moment


def _strict_date(value: object) -> object:
    """`format: date` means YYYY-MM-DD, not a date-time that happens to be midnight."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is None:
        raise ValueError("must be a date, YYYY-MM-DD")
    return value


def _positive_price(price: Money | None) -> Money | None:
    if price is not None and price.amount < 1:
        raise ValueError("must be above zero: a flight nobody can pay for cannot be booked")
    return price


ScheduledTime = Annotated[AwareDatetime, AfterValidator(_in_window)]
TicketPrice = Annotated[Money, AfterValidator(_positive_price)]
SearchDate = Annotated[
    dt.date,
    BeforeValidator(_strict_date),
    Field(ge=EARLIEST.date(), lt=LATEST.date()),
]


def search_key(departure_airport: str, arrival_airport: str, departure_date: dt.date) -> str:
    """Key of the sparse search index: present only while the flight has seats."""
    return f"{departure_airport}#{arrival_airport}#{departure_date.isoformat()}"


class Flight(BaseModel):
    model_config = ConfigDict(frozen=True)

    flightId: FlightId
    flightNumber: FlightNumber
    departureAirportCode: AirportCode
    arrivalAirportCode: AirportCode
    departureTime: str
    arrivalTime: str
    ticketPrice: Money
    seatCapacity: StrictInt
    seatsAvailable: StrictInt

    @property
    def departure_date(self) -> dt.date:
        return dt.date.fromisoformat(self.departureTime[:10])


class NewFlight(BaseModel):
    """Body of `POST /flights` (Admin)."""

    model_config = ConfigDict(extra="forbid")

    flightNumber: FlightNumber
    departureAirportCode: AirportCode
    arrivalAirportCode: AirportCode
    departureTime: ScheduledTime
    arrivalTime: ScheduledTime
    ticketPrice: TicketPrice
    seatCapacity: Annotated[StrictInt, Field(ge=1, le=MAX_SEATS)]

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if self.arrivalAirportCode == self.departureAirportCode:
            raise ValueError("arrivalAirportCode must differ from departureAirportCode")
        if self.arrivalTime <= self.departureTime:
            raise ValueError("arrivalTime must be after departureTime")
        return self

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


class FlightSearch(BaseModel):
    """Query of `GET /flights`; `from` is a Python keyword, hence the alias."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    departure: AirportCode = Field(alias="from")
    arrival: AirportCode = Field(alias="to")
    date: SearchDate
    limit: Annotated[int, Field(ge=1, le=50)] = 20
    nextToken: Annotated[str | None, Field(max_length=2048)] = None


class FlightPage(BaseModel):
    flights: list[Flight]
    nextToken: str | None = None


class FlightUpdate(BaseModel):
    """Body of `PUT /flights/{flightId}` (Admin): the fields that may change.

    The route (airports) and the flight number stay; a new capacity must still
    hold every seat already taken (`seatCapacity - seatsAvailable`).
    """

    model_config = ConfigDict(extra="forbid")

    departureTime: ScheduledTime | None = None
    arrivalTime: ScheduledTime | None = None
    ticketPrice: TicketPrice | None = None
    seatCapacity: Annotated[StrictInt, Field(ge=1, le=MAX_SEATS)] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("give at least one of departureTime, arrivalTime, ticketPrice, seatCapacity")
        return self

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
        return flight.model_copy(
            update={
                "departureTime": departure,
                "arrivalTime": arrival,
                "ticketPrice": self.ticketPrice or flight.ticketPrice,
                "seatCapacity": capacity,
                "seatsAvailable": capacity - taken,
            }
        )


@dataclass(frozen=True, kw_only=True)
class SeatRequest:
    """Input of the workflow tasks `reserveSeat` and `releaseSeat` (a checked record; extra keys ignored)."""

    bookingId: BookingId
    flightId: FlightId


class SeatReserved(BaseModel):
    bookingId: str
    flightId: str
    seatsAvailable: int


class SeatReleased(BaseModel):
    bookingId: str
    flightId: str
    released: bool
