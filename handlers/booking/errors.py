"""Booking errors. Workflow tasks raise them; Step Functions sees the class name as the error name."""

from __future__ import annotations

from handlers.shared.errors import Conflict, DomainError, InvalidInput, NotFound


class BookingNotFound(NotFound):
    code = "BOOKING_NOT_FOUND"


class FlightNotFound(NotFound):
    """`POST /bookings` for a flight the catalog does not have: nothing is written."""

    code = "FLIGHT_NOT_FOUND"


class BookingNotPending(Conflict):
    """Confirm found the booking in another status (a business outcome, never retried)."""

    code = "BOOKING_NOT_PENDING"


class BookingNotCancellable(Conflict):
    code = "BOOKING_NOT_CANCELLABLE"


class IdempotencyKeyReused(Conflict):
    """The same Idempotency-Key came with a different body."""

    code = "IDEMPOTENCY_KEY_REUSED"


class RequestInProgress(Conflict):
    """A request with this Idempotency-Key is still being processed."""

    code = "REQUEST_IN_PROGRESS"


class InvalidTaskInput(InvalidInput):
    """A workflow task got an input it cannot use (a definition bug, never retried)."""


class ReferencesExhausted(DomainError):
    """No free booking reference after several draws (practically impossible; retried)."""

    status = 503
    code = "REFERENCES_EXHAUSTED"


class WorkflowUnavailable(DomainError):
    status = 503
    code = "WORKFLOW_UNAVAILABLE"
