"""Booking events: the contract between booking (producer) and loyalty (consumer).

Schema version 1, published on the platform's booking-events topic with the
SNS message attribute `eventType` set to the event's type. Both sides validate
with these models; a breaking change needs a new `schemaVersion` that the
consumer learns before the producer emits it. See docs/events.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_serializer

from handlers.shared.clock import timestamp
from handlers.shared.ids import BookingId
from handlers.shared.money import Money

SCHEMA_VERSION = 1
BOOKING_CONFIRMED = "BookingConfirmed"
BOOKING_CANCELLED = "BookingCancelled"
EVENT_TYPES = (BOOKING_CONFIRMED, BOOKING_CANCELLED)

Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]


class BookingEvent(BaseModel):
    """One booking event; `amount` is what was captured (or refunded, when cancelled)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schemaVersion: Literal[1] = 1
    eventId: Identifier
    eventType: Literal["BookingConfirmed", "BookingCancelled"]
    occurredAt: AwareDatetime
    bookingId: BookingId
    customerId: Identifier
    flightId: Identifier
    amount: Money
    reason: Annotated[str, Field(max_length=64)] | None = None

    @field_serializer("occurredAt")
    def _utc(self, moment: dt.datetime) -> str:
        return timestamp(moment)

    def message_attributes(self) -> dict[str, dict[str, str]]:
        """SNS message attributes: subscribers filter on eventType."""
        return {
            "eventType": {"DataType": "String", "StringValue": self.eventType},
            "schemaVersion": {"DataType": "Number", "StringValue": str(self.schemaVersion)},
        }

    def to_message(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_message(cls, body: str) -> BookingEvent:
        """Parse and validate; raises pydantic.ValidationError on anything else."""
        return cls.model_validate_json(body)
