"""The one timestamp helper and the one BookingId every service shares."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from handlers.shared.clock import parse_timestamp, timestamp
from handlers.shared.ids import BookingId, is_booking_id
from handlers.shared.records import RecordError, parse


@dataclass(frozen=True, kw_only=True)
class _Referring:
    bookingId: BookingId


def test_a_timestamp_is_utc_text_with_microseconds_and_reads_back_the_same() -> None:
    moment = dt.datetime(2026, 11, 29, 20, 5, 1, 42, tzinfo=dt.timezone(dt.timedelta(hours=1)))

    text = timestamp(moment)

    assert text == "2026-11-29T19:05:01.000042Z"
    assert parse_timestamp(text) == moment


def test_a_stored_time_without_an_offset_is_read_as_utc() -> None:
    assert parse_timestamp("2026-11-29T19:05:01") == dt.datetime(2026, 11, 29, 19, 5, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize("value", ["3f0d2c1e-5a6b-5c7d-8e9f-0a1b2c3d4e5f", "b-1", "A" * 64])
def test_booking_ids_the_booking_service_issues_are_accepted_everywhere(value: str) -> None:
    assert is_booking_id(value)
    assert parse(_Referring, {"bookingId": value}).bookingId == value


@pytest.mark.parametrize("value", ["", "b 1", "b_1", "a.b", "x" * 65, "b-1\n"])
def test_anything_else_is_not_a_booking_id(value: str) -> None:
    assert not is_booking_id(value)
    with pytest.raises(RecordError):
        parse(_Referring, {"bookingId": value})
