"""The booking workflow's own task functions against moto: confirm, cancel, publish."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from tests.integration.booking.conftest import BookingWorld, book, task_adapters
from tests.support.events import FakeLambdaContext

REFERENCES = "airline-local-booking-references"


def _run(handler_name: str, event: dict[str, Any]) -> dict[str, Any]:
    from handlers.booking import tasks

    handler = getattr(tasks, handler_name)
    result: dict[str, Any] = handler(event, FakeLambdaContext(), adapters=task_adapters())
    return result


def _pending(world: BookingWorld, key: str = "task-key-0001") -> str:
    flight = world.add_flight()
    booking_id: str = book(flight, key=key)[1]["bookingId"]
    return booking_id


def test_confirm_assigns_an_unambiguous_reference_and_a_repeat_returns_the_same(world: BookingWorld) -> None:
    from handlers.booking.logic import is_reference

    booking_id = _pending(world)
    first = _run("confirm_handler", {"bookingId": booking_id, "paymentId": "pay-1"})
    again = _run("confirm_handler", {"bookingId": booking_id, "paymentId": "pay-1"})

    assert first["status"] == "CONFIRMED"
    assert is_reference(first["bookingReference"])
    assert again == first
    assert world.count(REFERENCES) == 1


def test_confirm_draws_again_when_a_reference_is_taken(world: BookingWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    from handlers.booking import logic

    world.dynamodb.put_item(
        TableName=REFERENCES, Item={"bookingReference": {"S": "AAAAAA"}, "bookingId": {"S": "someone-else"}}
    )
    draws = itertools.chain(["AAAAAA"], itertools.repeat("BBBBBB"))
    monkeypatch.setattr(logic, "new_reference", lambda: next(draws))
    booking_id = _pending(world)

    confirmed = _run("confirm_handler", {"bookingId": booking_id, "paymentId": "pay-1"})

    assert confirmed["bookingReference"] == "BBBBBB"
    owner = world.dynamodb.get_item(TableName=REFERENCES, Key={"bookingReference": {"S": "AAAAAA"}})["Item"]
    assert owner["bookingId"]["S"] == "someone-else"


def test_confirm_refuses_a_booking_that_is_no_longer_pending(world: BookingWorld) -> None:
    from handlers.booking.errors import BookingNotPending

    booking_id = _pending(world)
    _run("cancel_handler", {"bookingId": booking_id, "reason": "PAYMENT_DECLINED", "refund": {"status": "NONE"}})
    with pytest.raises(BookingNotPending):
        _run("confirm_handler", {"bookingId": booking_id, "paymentId": "pay-1"})
    assert world.count(REFERENCES) == 0


def test_confirm_with_another_payment_after_confirmation_is_refused(world: BookingWorld) -> None:
    from handlers.booking.errors import BookingNotPending

    booking_id = _pending(world)
    _run("confirm_handler", {"bookingId": booking_id, "paymentId": "pay-1"})
    with pytest.raises(BookingNotPending):
        _run("confirm_handler", {"bookingId": booking_id, "paymentId": "pay-2"})


def test_cancel_is_idempotent_and_keeps_the_first_reason(world: BookingWorld) -> None:
    booking_id = _pending(world)
    first = _run("cancel_handler", {"bookingId": booking_id, "reason": "SOLD_OUT", "refund": {"status": "NONE"}})
    again = _run("cancel_handler", {"bookingId": booking_id, "reason": "PAYMENT_ERROR", "refund": {"status": "NONE"}})
    assert first == again == {"bookingId": booking_id, "status": "CANCELLED", "reason": "SOLD_OUT"}


def test_customer_cancellation_needs_the_cancelling_status(world: BookingWorld) -> None:
    from handlers.booking.errors import BookingNotCancellable

    booking_id = _pending(world)
    with pytest.raises(BookingNotCancellable):
        _run("cancel_handler", {"bookingId": booking_id, "reason": "CUSTOMER_CANCELLED", "refund": {"status": "NONE"}})


@pytest.mark.parametrize(
    "event",
    [{}, {"bookingId": "x"}, {"bookingId": 5, "reason": "SOLD_OUT"}, {"bookingId": "b", "reason": "lower"}],
)
def test_task_input_that_is_not_a_task_is_refused(world: BookingWorld, event: dict[str, Any]) -> None:
    from handlers.booking.errors import InvalidTaskInput

    with pytest.raises(InvalidTaskInput):
        _run("cancel_handler", event)


def test_publish_sends_schema_v1_events_with_the_event_type_attribute(world: BookingWorld) -> None:
    from handlers.shared.events import BookingEvent

    booking_id = _pending(world)
    _run("confirm_handler", {"bookingId": booking_id, "paymentId": "pay-1"})
    _run("publish_handler", {"bookingId": booking_id, "eventType": "BookingConfirmed"})

    (envelope,) = world.published()
    event = BookingEvent.from_message(envelope["Message"])
    assert envelope["MessageAttributes"]["eventType"]["Value"] == "BookingConfirmed"
    assert event.bookingId == booking_id
    assert event.amount.amount == 12050
    assert event.eventId == f"{booking_id}:BookingConfirmed"


def test_a_cancelled_event_carries_what_was_refunded(world: BookingWorld) -> None:
    from handlers.shared.events import BookingEvent

    booking_id = _pending(world)
    _run("cancel_handler", {"bookingId": booking_id, "reason": "PAYMENT_DECLINED", "refund": {"status": "NONE"}})
    _run("publish_handler", {"bookingId": booking_id, "eventType": "BookingCancelled"})

    (envelope,) = world.published()
    event = BookingEvent.from_message(envelope["Message"])
    assert (event.eventType, event.reason, event.amount.amount) == ("BookingCancelled", "PAYMENT_DECLINED", 0)


def test_publishing_a_confirmation_for_a_pending_booking_is_refused(world: BookingWorld) -> None:
    from handlers.booking.errors import BookingNotCancellable

    booking_id = _pending(world)
    with pytest.raises(BookingNotCancellable):
        _run("publish_handler", {"bookingId": booking_id, "eventType": "BookingConfirmed"})
    assert world.published() == []
    assert json.dumps(booking_id)
