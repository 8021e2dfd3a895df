"""The booking logic's ports: what it needs from the outside, as Protocols (the adapters live in dal.py).

Logic imports these, never the data layer; the entry modules build the adapters
once (at cold start) and pass them in.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from handlers.booking.models import Booking, BookingPage, BookingStatus
from handlers.shared.events import BookingEvent
from handlers.shared.money import Money


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

    def mark_cancelling(self, booking_id: str, at: str, cancel_workflow_arn: str) -> Booking:
        """CONFIRMED -> CANCELLING, recording the state machine that runs the cancellation."""
        ...

    def mark_settled(self, booking_id: str, at: str) -> None: ...


class FlightCatalog(Protocol):
    def price_of(self, flight_id: str) -> Money | None: ...


class WorkflowStarter(Protocol):
    def start(self, state_machine_arn: str, name: str, payload: str) -> bool:
        """Start an execution; False when one with this name already exists (already started)."""
        ...


class EventPublisher(Protocol):
    def publish(self, event: BookingEvent) -> str: ...


class ExecutionState(StrEnum):
    NOT_STARTED = "NOT_STARTED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    STOPPED = "STOPPED"  # FAILED, TIMED_OUT or ABORTED: redrivable within 14 days


class RedriveOutcome(StrEnum):
    REDRIVEN = "REDRIVEN"
    NOT_REDRIVABLE = "NOT_REDRIVABLE"  # already redriven by a concurrent run, or too old


class WorkflowRuns(Protocol):
    """The executions of the booking's state machines, by deterministic name (the bookingId)."""

    def state(self, state_machine_arn: str, name: str) -> ExecutionState: ...

    def start(self, state_machine_arn: str, name: str, payload: str) -> bool: ...

    def redrive(self, state_machine_arn: str, name: str) -> RedriveOutcome: ...


class OpenBookings(Protocol):
    def open_before(self, cutoff: str, limit: int) -> list[str]: ...

    def get(self, booking_id: str) -> Booking | None: ...
