"""Booking models: the booking itself, the API bodies and the workflow task inputs."""

from __future__ import annotations

from dataclasses import field
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from handlers.shared.ids import BookingId
from handlers.shared.money import Money
from handlers.shared.records import Extra, Rules, dump, record

# Every model here is a checked record (handlers/shared/records.py): no booking function imports pydantic.
FlightId = Annotated[str, Rules(pattern=r"^[A-Za-z0-9-]{1,64}$")]
PaymentToken = Annotated[str, Rules(pattern=r"^tok_[A-Za-z0-9_]{1,60}$")]
IdempotencyKey = Annotated[str, Rules(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]
Identifier = Annotated[str, Rules(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]
Reason = Annotated[str, Rules(pattern=r"^[A-Z][A-Z_]{1,63}$")]


class BookingStatus(StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"


class CancelReason(StrEnum):
    SOLD_OUT = "SOLD_OUT"
    FLIGHT_NOT_FOUND = "FLIGHT_NOT_FOUND"
    SEAT_ERROR = "SEAT_ERROR"
    PAYMENT_DECLINED = "PAYMENT_DECLINED"
    PAYMENT_INVALID = "PAYMENT_INVALID"
    PAYMENT_ERROR = "PAYMENT_ERROR"
    CAPTURE_FAILED = "CAPTURE_FAILED"
    CONFIRMATION_FAILED = "CONFIRMATION_FAILED"
    CUSTOMER_CANCELLED = "CUSTOMER_CANCELLED"


@record
class Booking:
    """A booking as stored: its status through the saga and the saga's own guards."""

    bookingId: BookingId
    customerId: Identifier
    flightId: FlightId
    status: BookingStatus
    price: Money
    createdAt: str
    updatedAt: str
    bookingReference: str | None = None
    paymentId: str | None = None
    cancelReason: str | None = None
    confirmedAt: str | None = None
    cancelledAt: str | None = None
    refunded: bool = False
    settledAt: str | None = None  # BookingConfirmed was published: payment captured, the sale is complete
    # The saga's guard, kept on the booking for ever (docs/booking.md, "One saga per booking"):
    requestHash: str | None = None  # fingerprint of the request body: the same key with another body is 409
    workflowStartedBy: str | None = None  # the one state machine (colour) whose execution runs this booking
    workflowInput: str | None = None  # that execution's input, until the saga ends (for the reconciler)
    cancellationStartedBy: str | None = None  # the one cancellation state machine of the owner's cancel

    def public(self) -> dict[str, Any]:
        """What the API shows the customer."""
        document: dict[str, Any] = dump(self, exclude_none=True)
        return {name: value for name, value in document.items() if name not in PRIVATE_FIELDS}


PRIVATE_FIELDS = frozenset({"requestHash", "workflowStartedBy", "workflowInput", "cancellationStartedBy"})


@record
class NewBooking:
    """Body of `POST /bookings`. The price is never taken from here."""

    EXTRA: ClassVar[Extra] = "forbid"

    flightId: FlightId
    paymentToken: PaymentToken


@record
class BookingListQuery:
    """Query of `GET /bookings`: a page size and the token of the page to read."""

    EXTRA: ClassVar[Extra] = "forbid"

    limit: Annotated[int, Rules(ge=1, le=50)] = 20
    nextToken: Annotated[str, Rules(max_length=2048)] | None = None


@record
class BookingPage:
    """One page of a customer's bookings, and the token of the next page."""

    bookings: list[Booking] = field(default_factory=list)
    nextToken: str | None = None


@record
class WorkflowInput:
    """Input of one booking workflow execution (named after `bookingId`)."""

    bookingId: BookingId
    customerId: Identifier
    flightId: FlightId
    paymentToken: PaymentToken
    amount: Money


@record
class ConfirmTask:
    """Input of the ConfirmBooking task: the booking and its captured payment."""

    bookingId: BookingId
    paymentId: Identifier


@record
class CancelTask:
    """Input of the MarkBookingCancelled task: the booking and why it is cancelled."""

    bookingId: BookingId
    reason: Reason


@record
class PublishTask:
    """Input of the PublishBookingEvent task: the booking and the event to publish."""

    bookingId: BookingId
    eventType: Annotated[str, Rules(pattern=r"^(BookingConfirmed|BookingCancelled)$")]
