"""Booking rules over models and adapters passed in (no boto3 here)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import uuid
from collections.abc import Callable
from typing import Protocol

from handlers.booking.errors import (
    BookingNotCancellable,
    BookingNotFound,
    FlightNotFound,
    IdempotencyKeyReused,
    ReferencesExhausted,
)
from handlers.booking.models import Booking, BookingPage, BookingStatus, CancelReason, NewBooking, WorkflowInput
from handlers.shared.auth import Caller
from handlers.shared.events import BOOKING_CANCELLED, BOOKING_CONFIRMED, BookingEvent
from handlers.shared.money import Money

# No 0/O, 1/I/L: a reference read over the phone cannot be misheard.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REFERENCE_LENGTH = 6
REFERENCE_ATTEMPTS = 8
_BOOKING_NAMESPACE = uuid.UUID("5b0c4f55-7a8e-4d59-9c1e-5c9b7e3f0a11")

# Which status may follow which. Cancelling a confirmed booking by its owner goes
# through CANCELLING (refund and release in flight); the workflow's compensation
# may cancel a PENDING booking or a CONFIRMED one whose capture failed.
TRANSITIONS: dict[BookingStatus, frozenset[BookingStatus]] = {
    BookingStatus.PENDING: frozenset({BookingStatus.CONFIRMED, BookingStatus.CANCELLED}),
    BookingStatus.CONFIRMED: frozenset({BookingStatus.CANCELLING, BookingStatus.CANCELLED}),
    BookingStatus.CANCELLING: frozenset({BookingStatus.CANCELLED}),
    BookingStatus.CANCELLED: frozenset(),
}


def may_transition(current: BookingStatus, target: BookingStatus) -> bool:
    return target in TRANSITIONS[current]


def cancellable_from(reason: str) -> frozenset[BookingStatus]:
    """Statuses a booking may be cancelled from with `reason`."""
    if reason == CancelReason.CUSTOMER_CANCELLED:
        return frozenset({BookingStatus.CANCELLING})
    return frozenset({BookingStatus.PENDING, BookingStatus.CONFIRMED})


def new_reference(choice: Callable[[str], str] = secrets.choice) -> str:
    return "".join(choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def is_reference(value: str) -> bool:
    return len(value) == REFERENCE_LENGTH and all(char in REFERENCE_ALPHABET for char in value)


def booking_id_for(customer_id: str, idempotency_key: str) -> str:
    """Deterministic per (customer, key): a retry after a crash finds the same booking, never a second one."""
    return str(uuid.uuid5(_BOOKING_NAMESPACE, f"{customer_id}\n{idempotency_key}"))


def now_text() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class BookingRepository(Protocol):
    def create(self, booking: Booking) -> Booking | None:
        """Write a new booking; return the existing one instead when the id is taken."""
        ...

    def get(self, booking_id: str) -> Booking | None: ...

    def list_for_customer(self, customer_id: str, limit: int, next_token: str | None) -> BookingPage: ...

    def confirm(self, booking_id: str, payment_id: str, reference: str, at: str) -> Booking | None:
        """PENDING -> CONFIRMED with a unique reference; None when the reference is taken."""
        ...

    def cancel(
        self, booking_id: str, reason: str, from_statuses: frozenset[BookingStatus], refunded: bool, at: str
    ) -> Booking: ...

    def mark_cancelling(self, booking_id: str, at: str) -> Booking: ...

    def mark_settled(self, booking_id: str, at: str) -> None: ...


class FlightCatalog(Protocol):
    def price_of(self, flight_id: str) -> Money | None: ...


class WorkflowStarter(Protocol):
    def start(self, state_machine_arn: str, name: str, payload: str) -> bool:
        """Start an execution; False when one with this name already exists (already started)."""
        ...


class EventPublisher(Protocol):
    def publish(self, event: BookingEvent) -> str: ...


def create_booking(
    repository: BookingRepository,
    catalog: FlightCatalog,
    customer_id: str,
    idempotency_key: str,
    request: NewBooking,
) -> tuple[Booking, WorkflowInput]:
    """The PENDING booking for this request, with the price from the catalog."""
    price = catalog.price_of(request.flightId)
    if price is None:
        raise FlightNotFound(f"Flight {request.flightId} does not exist")
    at = now_text()
    booking = Booking(
        bookingId=booking_id_for(customer_id, idempotency_key),
        customerId=customer_id,
        flightId=request.flightId,
        status=BookingStatus.PENDING,
        price=price,
        createdAt=at,
        updatedAt=at,
    )
    existing = repository.create(booking)
    if existing is not None:
        if existing.customerId != customer_id or existing.flightId != request.flightId:
            raise IdempotencyKeyReused("This Idempotency-Key was used for another booking request")
        booking = existing
    workflow_input = WorkflowInput(
        bookingId=booking.bookingId,
        customerId=customer_id,
        flightId=booking.flightId,
        paymentToken=request.paymentToken,
        amount=booking.price,
    )
    return booking, workflow_input


def workflow_payload(workflow_input: WorkflowInput) -> str:
    """Execution input; `failure` and `refund` are defaults the compensation path overwrites."""
    document = workflow_input.model_dump(mode="json")
    document["failure"] = {"reason": "NONE"}
    document["refund"] = {"status": "NONE"}
    return _compact(document)


def _compact(document: dict[str, object]) -> str:
    return json.dumps(document, separators=(",", ":"))


def visible_booking(repository: BookingRepository, caller: Caller, booking_id: str) -> Booking:
    """The caller's booking (any booking for Admin); someone else's is 'not found', not 'forbidden'."""
    booking = repository.get(booking_id)
    if booking is None or (booking.customerId != caller.customer_id and not caller.is_admin):
        raise BookingNotFound(f"Booking {booking_id} does not exist")
    return booking


def confirm_booking(
    repository: BookingRepository,
    booking_id: str,
    payment_id: str,
    reference: Callable[[], str] | None = None,
) -> Booking:
    draw = reference or new_reference
    at = now_text()
    for _ in range(REFERENCE_ATTEMPTS):
        confirmed = repository.confirm(booking_id, payment_id, draw(), at)
        if confirmed is not None:
            return confirmed
    raise ReferencesExhausted("No free booking reference was found")


def cancel_booking(repository: BookingRepository, booking_id: str, reason: str, refunded: bool) -> Booking:
    return repository.cancel(booking_id, reason, cancellable_from(reason), refunded, now_text())


def request_cancellation(repository: BookingRepository, caller: Caller, booking_id: str) -> Booking:
    """Owner asks to cancel: CONFIRMED -> CANCELLING (a repeat answers the current state)."""
    booking = repository.get(booking_id)
    if booking is None or booking.customerId != caller.customer_id:
        raise BookingNotFound(f"Booking {booking_id} does not exist")
    if booking.status == BookingStatus.CONFIRMED:
        if booking.settledAt is None:
            # Between confirmation and the published BookingConfirmed the payment is being
            # captured: cancelling now would race the capture and reorder the events.
            raise BookingNotCancellable(f"Booking {booking_id} is being finalised; retry in a few seconds")
        return repository.mark_cancelling(booking_id, now_text())
    if booking.status == BookingStatus.CANCELLING or (
        booking.status == BookingStatus.CANCELLED and booking.cancelReason == CancelReason.CUSTOMER_CANCELLED
    ):
        return booking
    raise BookingNotCancellable(f"Booking {booking_id} is {booking.status.value} and cannot be cancelled")


def cancel_workflow_payload(booking: Booking) -> str:
    if booking.paymentId is None:
        raise BookingNotCancellable(f"Booking {booking.bookingId} has no payment to refund")
    return _compact(
        {
            "bookingId": booking.bookingId,
            "customerId": booking.customerId,
            "flightId": booking.flightId,
            "paymentId": booking.paymentId,
            "reason": CancelReason.CUSTOMER_CANCELLED.value,
            "refund": {"status": "NONE"},
        }
    )


def booking_event(booking: Booking, event_type: str) -> BookingEvent:
    """The event of a confirmed or cancelled booking; ids and times are stable across retries."""
    if event_type == BOOKING_CONFIRMED:
        if booking.status not in (BookingStatus.CONFIRMED, BookingStatus.CANCELLING, BookingStatus.CANCELLED):
            raise BookingNotCancellable(f"Booking {booking.bookingId} is not confirmed")
        occurred = booking.confirmedAt or booking.updatedAt
        amount = booking.price
        reason = None
    elif event_type == BOOKING_CANCELLED:
        if booking.status != BookingStatus.CANCELLED:
            raise BookingNotCancellable(f"Booking {booking.bookingId} is not cancelled")
        occurred = booking.cancelledAt or booking.updatedAt
        amount = booking.price if booking.refunded else Money(amount=0, currency=booking.price.currency)
        reason = booking.cancelReason
    else:
        raise ValueError(f"unknown event type {event_type}")
    return BookingEvent(
        eventId=f"{booking.bookingId}:{event_type}",
        eventType=event_type,
        occurredAt=dt.datetime.fromisoformat(occurred.replace("Z", "+00:00")),
        bookingId=booking.bookingId,
        customerId=booking.customerId,
        flightId=booking.flightId,
        amount=amount,
        reason=reason,
    )
