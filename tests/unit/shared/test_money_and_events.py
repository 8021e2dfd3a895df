"""Money is integer minor units; booking events validate on both sides."""

from __future__ import annotations

import datetime as dt

import pytest

from handlers.shared.events import BookingEvent
from handlers.shared.money import Money
from handlers.shared.records import RecordError, parse


@pytest.mark.parametrize(
    "payload",
    [
        {"amount": 120.5, "currency": "EUR"},
        {"amount": "12050", "currency": "EUR"},
        {"amount": -1, "currency": "EUR"},
        {"amount": 100, "currency": "eur"},
        {"amount": 100, "currency": "EURO"},
        {"amount": 100, "currency": "EUR", "extra": 1},
    ],
)
def test_money_refuses_floats_strings_negatives_and_bad_currencies(payload: dict[str, object]) -> None:
    with pytest.raises(RecordError):
        parse(Money, payload)


def event(**overrides: object) -> BookingEvent:
    fields: dict[str, object] = {
        "eventId": "evt-1",
        "eventType": "BookingConfirmed",
        "occurredAt": dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC),
        "bookingId": "b-1",
        "customerId": "c-1",
        "flightId": "f-1",
        "amount": {"amount": 12050, "currency": "EUR"},
    }
    fields.update(overrides)
    return parse(BookingEvent, fields)


def test_an_event_round_trips_through_its_message_with_a_utc_z_time() -> None:
    original = event()
    message = original.to_message()
    assert '"occurredAt":"2026-11-28T12:00:00.000000Z"' in message
    assert BookingEvent.from_message(message) == original
    assert original.message_attributes()["eventType"] == {"DataType": "String", "StringValue": "BookingConfirmed"}


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        '{"schemaVersion": 2}',
        event().to_message().replace("BookingConfirmed", "BookingExploded"),
        event().to_message().replace('"schemaVersion":1', '"schemaVersion":2'),
        event().to_message().replace("12050", "120.5"),
        event().to_message().replace('Z"', '"'),
    ],
)
def test_the_consumer_side_refuses_anything_but_schema_v1(body: str) -> None:
    with pytest.raises(RecordError):
        BookingEvent.from_message(body)
