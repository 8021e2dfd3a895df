"""Errors of the catalog's workflow tasks.

The booking workflow (Step Functions) sees a Lambda task's exception by its class
name (`errorType`), so these class names are the contract: `SoldOut`,
`FlightNotFound`, `InvalidSeatRequest`, `ReservationConflict`, `SeatInventoryConflict`.
They are DomainErrors too, so an HTTP route raising one answers a 4xx.
"""

from __future__ import annotations

from handlers.shared.errors import Conflict, InvalidInput, NotFound


class SoldOut(Conflict):
    """No seat left on the flight. A business outcome: the workflow does not retry it."""

    code = "SOLD_OUT"


class FlightNotFound(NotFound):
    code = "FLIGHT_NOT_FOUND"


class InvalidSeatRequest(InvalidInput):
    """The task input is not `{"bookingId": str, "flightId": str}`."""


class ReservationConflict(Conflict):
    """The booking already holds (or held and released) a seat on another flight, or was released."""

    code = "RESERVATION_CONFLICT"


class SeatInventoryConflict(Conflict):
    """A held seat cannot go back because the flight is already at capacity (data out of line)."""

    code = "SEAT_INVENTORY_CONFLICT"
