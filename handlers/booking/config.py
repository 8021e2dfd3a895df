"""Booking configuration, parsed once from the environment (handlers/shared/config.py).

Every booking function gets the four tables; each ARN only the functions that use it
(createBooking the workflow, cancelBooking the cancellation, publishBookingEvent the
topic, reconcileBookings both workflows), taken with `required(...)` where used.
"""

from __future__ import annotations

from functools import cache

from handlers.shared.config import from_environment, refuse, setting
from handlers.shared.records import record


@record
class BookingConfig:
    """The booking functions' settings: their tables and, per function, the ARNs it uses."""

    bookings_table_name: str = setting("BOOKINGS_TABLE_NAME")
    references_table_name: str = setting("BOOKING_REFERENCES_TABLE_NAME")
    idempotency_table_name: str = setting("IDEMPOTENCY_TABLE_NAME")
    flights_table_name: str = setting("FLIGHTS_TABLE_NAME")
    workflow_arn: str | None = setting("BOOKING_WORKFLOW_ARN", None)
    cancel_workflow_arn: str | None = setting("CANCEL_WORKFLOW_ARN", None)
    events_topic_arn: str | None = setting("BOOKING_EVENTS_TOPIC_ARN", None)
    reconcile_after_seconds: int = setting("RECONCILE_AFTER_SECONDS", 900)

    def __post_init__(self) -> None:
        if self.reconcile_after_seconds < 0:
            refuse("RECONCILE_AFTER_SECONDS", "must be 0 or more")


@cache
def load_config() -> BookingConfig:
    return from_environment(BookingConfig)
