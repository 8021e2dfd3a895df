"""Booking rules over models and adapters passed in (no boto3 here)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import secrets
import uuid
from collections.abc import Callable

from handlers.booking.errors import (
    BookingNotCancellable,
    BookingNotFound,
    FlightNotFound,
    IdempotencyKeyReused,
    ReferencesExhausted,
)
from handlers.booking.models import Booking, BookingStatus, CancelReason, NewBooking, WorkflowInput
from handlers.booking.ports import (
    BookingRepository,
    EventPublisher,
    ExecutionState,
    FlightCatalog,
    OpenBookings,
    RedriveOutcome,
    WorkflowRuns,
    WorkflowStarter,
)
from handlers.shared.auth import Caller
from handlers.shared.clock import parse_timestamp, timestamp
from handlers.shared.errors import TransientError
from handlers.shared.events import BOOKING_CANCELLED, BOOKING_CONFIRMED, BookingEvent
from handlers.shared.money import Money
from handlers.shared.records import dump

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


def request_fingerprint(customer_id: str, request: NewBooking) -> str:
    """What makes two `POST /bookings` with one key the same request (kept on the booking for ever)."""
    canonical = _compact({"customerId": customer_id, **dump(request)})
    return hashlib.sha256(canonical.encode()).hexdigest()


def create_booking(
    repository: BookingRepository,
    catalog: FlightCatalog,
    customer_id: str,
    idempotency_key: str,
    request: NewBooking,
    *,
    workflow_arn: str,
) -> tuple[Booking, WorkflowInput]:
    """The PENDING booking for this request, with the price from the catalog.

    The booking is written once, with the state machine that owns its saga
    (`workflowStartedBy`) and the request's fingerprint: a later request with the same
    key, to any colour and after any idempotency window, finds it; with another body
    it is refused for ever.
    """
    price = catalog.price_of(request.flightId)
    if price is None:
        raise FlightNotFound(f"Flight {request.flightId} does not exist")
    at = timestamp()
    booking_id = booking_id_for(customer_id, idempotency_key)
    workflow_input = WorkflowInput(
        bookingId=booking_id,
        customerId=customer_id,
        flightId=request.flightId,
        paymentToken=request.paymentToken,
        amount=price,
    )
    fingerprint = request_fingerprint(customer_id, request)
    booking = Booking(
        bookingId=booking_id,
        customerId=customer_id,
        flightId=request.flightId,
        status=BookingStatus.PENDING,
        price=price,
        createdAt=at,
        updatedAt=at,
        requestHash=fingerprint,
        workflowStartedBy=workflow_arn,
        workflowInput=workflow_payload(workflow_input),
    )
    existing = repository.create(booking)
    if existing is None:
        return booking, workflow_input
    if existing.customerId != customer_id or existing.flightId != request.flightId:
        raise IdempotencyKeyReused("This Idempotency-Key was used for another booking request")
    if existing.requestHash is not None and existing.requestHash != fingerprint:
        raise IdempotencyKeyReused("This Idempotency-Key was used with another body")
    return existing, dataclasses.replace(workflow_input, amount=existing.price)


def start_booking(
    *,
    request: dict[str, str],
    repository: BookingRepository,
    catalog: FlightCatalog,
    starter: WorkflowStarter,
    workflow_arn: str,
    on_started: Callable[[Booking], None] | None = None,
) -> dict[str, str]:
    """`POST /bookings`: write the PENDING booking (price from the catalog) and start its one saga.

    `request` is `{"customerId", "idempotencyKey", "flightId", "paymentToken"}`; the entry
    module wraps this function with Powertools `idempotent_function` on it (key: customer
    and Idempotency-Key; payload check: flight and token), so a replay answers the first
    result without running again. `on_started` hears of an execution actually started.
    """
    booking, _ = create_booking(
        repository,
        catalog,
        request["customerId"],
        request["idempotencyKey"],
        NewBooking(flightId=request["flightId"], paymentToken=request["paymentToken"]),
        workflow_arn=workflow_arn,
    )
    # Only the colour recorded on the booking starts (or restarts, a no-op) its one saga.
    payload = saga_to_start(booking, workflow_arn)
    if payload is not None and starter.start(workflow_arn, booking.bookingId, payload) and on_started:
        on_started(booking)
    return {"bookingId": booking.bookingId, "status": booking.status.value}


def saga_to_start(booking: Booking, workflow_arn: str) -> str | None:
    """The execution input to (re)start for this booking from `workflow_arn`, or None.

    Only the state machine recorded on the booking runs its saga, and only while the
    booking is PENDING: another colour, a late retry or a finished booking starts nothing.
    Restarting under the same name with the same input is a no-op in Step Functions.
    """
    if booking.status != BookingStatus.PENDING or booking.workflowStartedBy != workflow_arn:
        return None
    return booking.workflowInput


def workflow_payload(workflow_input: WorkflowInput) -> str:
    """Execution input; `failure` and `refund` are defaults the compensation path overwrites."""
    document: dict[str, object] = dump(workflow_input)
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
    at = timestamp()
    for _ in range(REFERENCE_ATTEMPTS):
        confirmed = repository.confirm(booking_id, payment_id, draw(), at)
        if confirmed is not None:
            return confirmed
    raise ReferencesExhausted("No free booking reference was found")


def cancel_booking(repository: BookingRepository, booking_id: str, reason: str, refunded: bool) -> Booking:
    return repository.cancel(booking_id, reason, cancellable_from(reason), refunded, timestamp())


def request_cancellation(
    repository: BookingRepository, caller: Caller, booking_id: str, cancel_workflow_arn: str
) -> Booking:
    """Owner asks to cancel: CONFIRMED -> CANCELLING (a repeat answers the current state)."""
    booking = repository.get(booking_id)
    if booking is None or booking.customerId != caller.customer_id:
        raise BookingNotFound(f"Booking {booking_id} does not exist")
    if booking.status == BookingStatus.CONFIRMED:
        if booking.settledAt is None:
            # Between confirmation and the published BookingConfirmed the payment is being
            # captured: cancelling now would race the capture and reorder the events.
            raise BookingNotCancellable(f"Booking {booking_id} is being finalised; retry in a few seconds")
        return repository.mark_cancelling(booking_id, timestamp(), cancel_workflow_arn)
    if booking.status == BookingStatus.CANCELLING or (
        booking.status == BookingStatus.CANCELLED and booking.cancelReason == CancelReason.CUSTOMER_CANCELLED
    ):
        return booking
    raise BookingNotCancellable(f"Booking {booking_id} is {booking.status.value} and cannot be cancelled")


def cancellation_to_start(booking: Booking, cancel_workflow_arn: str) -> str | None:
    """The cancellation execution input to (re)start from `cancel_workflow_arn`, or None (not ours, not CANCELLING)."""
    if booking.status != BookingStatus.CANCELLING or booking.cancellationStartedBy != cancel_workflow_arn:
        return None
    return cancel_workflow_payload(booking)


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
        occurredAt=parse_timestamp(occurred),
        bookingId=booking.bookingId,
        customerId=booking.customerId,
        flightId=booking.flightId,
        amount=amount,
        reason=reason,
    )


def publish_booking_event(
    repository: BookingRepository, publisher: EventPublisher, booking_id: str, event_type: str
) -> tuple[BookingEvent, str]:
    """Publish the booking's BookingConfirmed / BookingCancelled; a published confirmation settles the sale."""
    booking = repository.get(booking_id)
    if booking is None:
        raise BookingNotFound(f"Booking {booking_id} does not exist")
    event = booking_event(booking, event_type)
    message_id = publisher.publish(event)
    if event_type == BOOKING_CONFIRMED:
        repository.mark_settled(booking.bookingId, timestamp())
    return event, message_id


# ---- the reconciler: no booking is left unfinished ----


@dataclasses.dataclass(kw_only=True)
class ReconcileReport:
    """What one reconciler run found and did (emitted as metrics; the alarm watches `openPastThreshold`)."""

    openPastThreshold: int = 0
    oldestOpenSeconds: int = 0
    started: int = 0
    redriven: int = 0
    running: int = 0
    otherColour: int = 0
    needsOperator: int = 0  # stopped and not redrivable here, or open with no saga to run
    deferred: int = 0  # a transient Step Functions failure: the next run tries again

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


def reconcile(
    bookings: OpenBookings,
    runs: WorkflowRuns,
    *,
    workflow_arn: str,
    cancel_workflow_arn: str,
    now: dt.datetime,
    threshold: dt.timedelta,
    limit: int = 200,
) -> ReconcileReport:
    """Drive every booking whose saga has been open longer than `threshold` towards its end.

    Per booking, from a consistent read: its own state machine (the colour recorded on
    the booking; another colour's bookings are that colour's reconciler's) and its
    execution by deterministic name. Never started: start it with the recorded input.
    Stopped (failed, timed out, aborted): redrive it, which re-runs the step that failed.
    Running: leave it. Safe twice or concurrently: a start under a taken name and a
    redrive of a running execution are refused by Step Functions, and every task is
    idempotent per booking.
    """
    report = ReconcileReport()
    cutoff = timestamp(now - threshold)
    for booking_id in bookings.open_before(cutoff, limit):
        booking = bookings.get(booking_id)
        if booking is None or not saga_open(booking):
            continue  # ended since the index was read (it is eventually consistent)
        report.openPastThreshold += 1
        age = int(
            (
                now
                - parse_timestamp(
                    booking.updatedAt if booking.status == BookingStatus.CANCELLING else booking.createdAt
                )
            ).total_seconds()
        )
        report.oldestOpenSeconds = max(report.oldestOpenSeconds, age)
        try:
            report.add(_drive(booking, runs, workflow_arn, cancel_workflow_arn))
        except TransientError:
            report.add("deferred")  # Step Functions throttled or failed: the next run tries again
    return report


def saga_open(booking: Booking) -> bool:
    """PENDING, CANCELLING, or CONFIRMED before its BookingConfirmed went out (capture and event pending)."""
    if booking.status == BookingStatus.CONFIRMED:
        return booking.settledAt is None
    return booking.status != BookingStatus.CANCELLED


def _drive(booking: Booking, runs: WorkflowRuns, workflow_arn: str, cancel_workflow_arn: str) -> str:
    if booking.status == BookingStatus.CANCELLING:
        machine, ours = booking.cancellationStartedBy, cancel_workflow_arn
        payload = cancellation_to_start(booking, cancel_workflow_arn)
    else:
        machine, ours = booking.workflowStartedBy, workflow_arn
        payload = saga_to_start(booking, workflow_arn)
    if machine != ours:
        return "otherColour" if machine else "needsOperator"
    state = runs.state(machine, booking.bookingId)
    if state == ExecutionState.RUNNING:
        return "running"
    if state == ExecutionState.NOT_STARTED:
        if payload is None:
            return "needsOperator"
        runs.start(machine, booking.bookingId, payload)
        return "started"
    if state == ExecutionState.STOPPED:
        return "redriven" if runs.redrive(machine, booking.bookingId) == RedriveOutcome.REDRIVEN else "needsOperator"
    return "needsOperator"  # the execution succeeded yet the booking is open: look at it
