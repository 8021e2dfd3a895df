"""Booking events: the contract between booking (producer) and loyalty (consumer).

Schema version 1, published on the platform's booking-events topic with the
SNS message attribute `eventType` set to the event's type. Both sides validate
with this record (handlers/shared/records.py); a breaking change needs a new
`schemaVersion` that the consumer learns before the producer emits it. See docs/events.md.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, ClassVar, Literal

from handlers.shared.clock import timestamp
from handlers.shared.ids import BookingId
from handlers.shared.money import Money
from handlers.shared.records import Extra, RecordError, Rules, dump, parse, record

SCHEMA_VERSION = 1
BOOKING_CONFIRMED = "BookingConfirmed"
BOOKING_CANCELLED = "BookingCancelled"
EVENT_TYPES = (BOOKING_CONFIRMED, BOOKING_CANCELLED)

Identifier = Annotated[str, Rules(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]


@record
class BookingEvent:
    """One booking event; `amount` is what was captured (or refunded, when cancelled)."""

    EXTRA: ClassVar[Extra] = "forbid"

    schemaVersion: Literal[1] = 1
    eventId: Identifier
    eventType: Annotated[str, Rules(pattern=f"^({BOOKING_CONFIRMED}|{BOOKING_CANCELLED})$")]
    occurredAt: Annotated[dt.datetime, Rules(aware=True)]
    bookingId: BookingId
    customerId: Identifier
    flightId: Identifier
    amount: Money
    reason: Annotated[str, Rules(max_length=64)] | None = None

    def message_attributes(self) -> dict[str, dict[str, str]]:
        """SNS message attributes: subscribers filter on eventType."""
        return {
            "eventType": {"DataType": "String", "StringValue": self.eventType},
            "schemaVersion": {"DataType": "Number", "StringValue": str(self.schemaVersion)},
        }

    def to_message(self) -> str:
        """Compact JSON, `occurredAt` in UTC with microseconds and `Z`."""
        document: dict[str, Any] = dump(self)
        document["occurredAt"] = timestamp(self.occurredAt)
        return json.dumps(document, separators=(",", ":"))

    @classmethod
    def from_message(cls, body: str) -> BookingEvent:
        """Parse and validate; raises RecordError (details: what is wrong where) on anything else."""
        try:
            document = json.loads(body)
        except ValueError as exc:
            raise RecordError([{"field": "body", "issue": f"Invalid JSON: {exc}"}]) from exc
        if not isinstance(document, dict):
            raise RecordError([{"field": "body", "issue": "Input should be an object"}])
        return parse(cls, document)
