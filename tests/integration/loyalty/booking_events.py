"""Booking events as the booking service publishes them (handlers.shared.events), and as SQS hands them to Lambda."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from handlers.shared.events import BookingEvent
from handlers.shared.money import Money
from tests.support.events import sqs_record

CONFIRMED, CANCELLED = "BookingConfirmed", "BookingCancelled"


def booking_event(
    kind: str, booking: str = "booking-1", customer: str = "customer-1", amount: int = 12050, currency: str = "EUR"
) -> BookingEvent:
    return BookingEvent(
        eventId=str(uuid.uuid4()),
        eventType=kind,
        occurredAt=dt.datetime.now(dt.UTC),
        bookingId=booking,
        customerId=customer,
        flightId="flight-1",
        amount=Money(amount=amount, currency=currency),
        reason="CUSTOMER_REQUEST" if kind == CANCELLED else None,
    )


def lambda_attributes(attributes: dict[str, dict[str, str]]) -> dict[str, Any]:
    """SNS/SQS message attributes in the shape the Lambda SQS poller passes them."""
    return {
        name: {
            "stringValue": value.get("StringValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value["DataType"],
        }
        for name, value in attributes.items()
    }


def record_of(event: BookingEvent, message_id: str | None = None) -> dict[str, Any]:
    """The SQS record of a raw-delivered event: the body is the event, the attributes are the SNS ones."""
    return sqs_record(
        event.to_message(), message_id=message_id, attributes=lambda_attributes(event.message_attributes())
    )


def record_from_sqs(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """A message from ReceiveMessage as the Lambda poller would hand it over."""
    record = sqs_record(
        message["Body"],
        message_id=message["MessageId"],
        attributes=lambda_attributes(message.get("MessageAttributes", {})),
    )
    record["receiptHandle"] = message["ReceiptHandle"]
    record["attributes"].update(message.get("Attributes", {}))
    record["md5OfBody"] = message["MD5OfBody"]
    record["eventSourceARN"] = queue_arn
    return record
