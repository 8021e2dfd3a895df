"""The booking entry points work with the adapters they are given: in-memory fakes, no AWS, no module reset."""

from __future__ import annotations

import json
from typing import Any

from handlers.booking import api, tasks
from handlers.booking.config import BookingConfig
from handlers.booking.models import BookingStatus
from handlers.shared.events import BookingEvent
from tests.support.events import FakeLambdaContext, claims_for, http_event
from tests.unit.booking.test_rules import CANCEL_BLUE, FakeCatalog, FakeRepository, _booking

CONFIG = BookingConfig(
    bookings_table_name="bookings",
    references_table_name="references",
    idempotency_table_name="idempotency",
    flights_table_name="flights",
    cancel_workflow_arn=CANCEL_BLUE,
)


class RecordingStarter:
    def __init__(self) -> None:
        self.started: list[tuple[str, str, dict[str, Any]]] = []

    def start(self, state_machine_arn: str, name: str, payload: str) -> bool:
        self.started.append((state_machine_arn, name, json.loads(payload)))
        return True


class RecordingPublisher:
    def __init__(self) -> None:
        self.events: list[BookingEvent] = []

    def publish(self, event: BookingEvent) -> str:
        self.events.append(event)
        return f"message-{len(self.events)}"


def test_the_api_reads_and_cancels_through_the_adapters_it_was_given() -> None:
    repository, starter = FakeRepository(), RecordingStarter()
    repository.items["b-1"] = _booking(status=BookingStatus.CONFIRMED, paymentId="pay-1", settledAt="t")
    adapters = api.Adapters(config=CONFIG, repository=repository, catalog=FakeCatalog({}), starter=starter)

    read = api.handler(
        http_event("GET", "/bookings/b-1", route="/bookings/{bookingId}", claims=claims_for("alice")),
        FakeLambdaContext(),
        adapters=adapters,
    )
    cancelled = api.handler(
        http_event("POST", "/bookings/b-1/cancel", route="/bookings/{bookingId}/cancel", claims=claims_for("alice")),
        FakeLambdaContext(),
        adapters=adapters,
    )

    assert (read["statusCode"], json.loads(read["body"])["bookingId"]) == (200, "b-1")
    assert cancelled["statusCode"] == 202
    assert repository.items["b-1"].status == BookingStatus.CANCELLING
    assert [(arn, name) for arn, name, _ in starter.started] == [(CANCEL_BLUE, "b-1")]


def test_the_publish_task_publishes_through_the_adapters_it_was_given() -> None:
    repository, publisher = FakeRepository(), RecordingPublisher()
    repository.items["b-1"] = _booking(
        status=BookingStatus.CANCELLED, cancelReason="SOLD_OUT", cancelledAt="2026-11-28T12:05:00.000000Z"
    )

    answer = tasks.publish_handler(
        {"bookingId": "b-1", "eventType": "BookingCancelled"},
        FakeLambdaContext(),
        adapters=tasks.Adapters(repository=repository, publisher=publisher),
    )

    assert answer == {"eventId": "b-1:BookingCancelled", "eventType": "BookingCancelled", "messageId": "message-1"}
    assert [event.reason for event in publisher.events] == ["SOLD_OUT"]
