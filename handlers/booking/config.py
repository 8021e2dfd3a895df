"""Booking configuration, parsed once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True, kw_only=True)
class BookingConfig:
    bookings_table_name: str
    references_table_name: str
    idempotency_table_name: str
    flights_table_name: str
    workflow_arn: str
    cancel_workflow_arn: str
    events_topic_arn: str
    reconcile_after_seconds: int = 900


def _env(name: str) -> str:
    return os.environ.get(name, "")


@cache
def load_config() -> BookingConfig:
    return BookingConfig(
        bookings_table_name=_env("BOOKINGS_TABLE_NAME"),
        references_table_name=_env("BOOKING_REFERENCES_TABLE_NAME"),
        idempotency_table_name=_env("IDEMPOTENCY_TABLE_NAME"),
        flights_table_name=_env("FLIGHTS_TABLE_NAME"),
        workflow_arn=_env("BOOKING_WORKFLOW_ARN"),
        cancel_workflow_arn=_env("CANCEL_WORKFLOW_ARN"),
        events_topic_arn=_env("BOOKING_EVENTS_TOPIC_ARN"),
        reconcile_after_seconds=int(_env("RECONCILE_AFTER_SECONDS") or 900),
    )
