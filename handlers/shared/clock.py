"""The one timestamp helper: every stored or published time is UTC text with microseconds and a `Z`."""

from __future__ import annotations

import datetime as dt

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def timestamp(moment: dt.datetime | None = None) -> str:
    """`moment` (default: now) as `2026-11-29T19:20:10.123456Z`; sorts as text in time order."""
    return (moment or utc_now()).astimezone(dt.UTC).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> dt.datetime:
    """A stored ISO 8601 time (a `Z` or an offset) as an aware datetime; a naive one is taken as UTC."""
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
