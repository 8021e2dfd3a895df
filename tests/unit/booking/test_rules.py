"""Booking rules without AWS: statuses, references, idempotency keys, events."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from typing import Any

import pytest

from handlers.booking import logic
from handlers.booking.errors import BookingNotCancellable, BookingNotFound, FlightNotFound, IdempotencyKeyReused
from handlers.booking.models import Booking, BookingPage, BookingStatus, NewBooking
from handlers.shared.auth import Caller
from handlers.shared.money import Money
from handlers.shared.records import RecordError, parse

S = BookingStatus


def _booking(**changes: Any) -> Booking:
    base: dict[str, Any] = {
        "bookingId": "b-1",
        "customerId": "alice",
        "flightId": "FL-1",
        "status": S.PENDING,
        "price": Money(amount=12050, currency="EUR"),
        "createdAt": "2026-11-28T12:00:00.000000Z",
        "updatedAt": "2026-11-28T12:00:00.000000Z",
    }
    return Booking(**{**base, **changes})


BLUE = "arn:aws:states:eu-west-1:123456789012:stateMachine:airline-booking-prod-blue-workflow"
GREEN = "arn:aws:states:eu-west-1:123456789012:stateMachine:airline-booking-prod-green-workflow"
CANCEL_BLUE = "arn:aws:states:eu-west-1:123456789012:stateMachine:airline-booking-prod-blue-cancellation"


class FakeRepository:
    def __init__(self) -> None:
        self.items: dict[str, Booking] = {}

    def create(self, booking: Booking) -> Booking | None:
        if booking.bookingId in self.items:
            return self.items[booking.bookingId]
        self.items[booking.bookingId] = booking
        return None

    def get(self, booking_id: str) -> Booking | None:
        return self.items.get(booking_id)

    def list_for_customer(self, customer_id: str, limit: int, next_token: str | None) -> BookingPage:
        return BookingPage(bookings=[b for b in self.items.values() if b.customerId == customer_id][:limit])

    def confirm(self, booking_id: str, payment_id: str, reference: str, at: str) -> Booking | None:
        raise NotImplementedError

    def cancel(
        self, booking_id: str, reason: str, from_statuses: frozenset[BookingStatus], refunded: bool, at: str
    ) -> Booking:
        raise NotImplementedError

    def mark_settled(self, booking_id: str, at: str) -> None:
        raise NotImplementedError

    def mark_cancelling(self, booking_id: str, at: str, cancel_workflow_arn: str) -> Booking:
        booking = dataclasses.replace(
            self.items[booking_id], status=S.CANCELLING, cancellationStartedBy=cancel_workflow_arn
        )
        self.items[booking_id] = booking
        return booking


class FakeCatalog:
    def __init__(self, prices: dict[str, Money]) -> None:
        self.prices = prices

    def price_of(self, flight_id: str) -> Money | None:
        return self.prices.get(flight_id)


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (S.PENDING, S.CONFIRMED, True),
        (S.PENDING, S.CANCELLED, True),
        (S.CONFIRMED, S.CANCELLING, True),
        (S.CONFIRMED, S.CANCELLED, True),
        (S.CANCELLING, S.CANCELLED, True),
        (S.CONFIRMED, S.PENDING, False),
        (S.CANCELLED, S.CONFIRMED, False),
        (S.CANCELLED, S.PENDING, False),
        (S.CANCELLING, S.CONFIRMED, False),
        (S.PENDING, S.CANCELLING, False),
    ],
)
def test_status_transitions(current: BookingStatus, target: BookingStatus, allowed: bool) -> None:
    assert logic.may_transition(current, target) is allowed


def test_cancelled_is_final() -> None:
    assert not logic.TRANSITIONS[S.CANCELLED]


def test_customer_cancellation_comes_only_from_cancelling_and_compensation_never_from_it() -> None:
    assert logic.cancellable_from("CUSTOMER_CANCELLED") == {S.CANCELLING}
    assert logic.cancellable_from("SOLD_OUT") == {S.PENDING, S.CONFIRMED}
    for reason in ("SOLD_OUT", "CUSTOMER_CANCELLED"):
        assert all(logic.may_transition(s, S.CANCELLED) for s in logic.cancellable_from(reason))


def test_references_are_six_characters_of_an_unambiguous_alphabet() -> None:
    assert not set("0O1IL") & set(logic.REFERENCE_ALPHABET)
    assert len(set(logic.REFERENCE_ALPHABET)) == len(logic.REFERENCE_ALPHABET)
    references = {logic.new_reference() for _ in range(2000)}
    assert all(logic.is_reference(r) for r in references)
    assert len(references) > 1990  # ~887 million possibilities: collisions in 2000 draws are rare


def test_reference_draws_use_every_letter_of_the_alphabet() -> None:
    rng = random.Random(7)
    drawn = "".join(logic.new_reference(rng.choice) for _ in range(500))
    assert set(drawn) == set(logic.REFERENCE_ALPHABET)


@pytest.mark.parametrize("value", ["ABCDE", "ABCDEFG", "ABCDE0", "abcdef", "ABCDEI"])
def test_is_reference_refuses_anything_else(value: str) -> None:
    assert not logic.is_reference(value)


def test_booking_id_is_stable_per_customer_and_key_and_differs_otherwise() -> None:
    one = logic.booking_id_for("alice", "key-1")
    assert one == logic.booking_id_for("alice", "key-1")
    assert one != logic.booking_id_for("bob", "key-1")
    assert one != logic.booking_id_for("alice", "key-2")
    # the separator keeps ("a", "bc") and ("ab", "c") apart
    assert logic.booking_id_for("a", "bc") != logic.booking_id_for("ab", "c")


def test_create_takes_the_price_from_the_catalog() -> None:
    repository = FakeRepository()
    catalog = FakeCatalog({"FL-1": Money(amount=9900, currency="GBP")})
    booking, workflow_input = logic.create_booking(
        repository, catalog, "alice", "key-1", NewBooking(flightId="FL-1", paymentToken="tok_visa"), workflow_arn=BLUE
    )
    assert booking.price == Money(amount=9900, currency="GBP")
    assert workflow_input.amount == booking.price
    assert booking.status == S.PENDING


def test_create_for_an_unknown_flight_writes_nothing() -> None:
    repository = FakeRepository()
    with pytest.raises(FlightNotFound):
        logic.create_booking(
            repository,
            FakeCatalog({}),
            "alice",
            "key-1",
            NewBooking(flightId="FL-9", paymentToken="tok_visa"),
            workflow_arn=BLUE,
        )
    assert repository.items == {}


def test_create_again_returns_the_first_booking_and_refuses_another_flight() -> None:
    repository = FakeRepository()
    catalog = FakeCatalog({"FL-1": Money(amount=1, currency="EUR"), "FL-2": Money(amount=2, currency="EUR")})
    first, _ = logic.create_booking(
        repository, catalog, "alice", "k", NewBooking(flightId="FL-1", paymentToken="tok_visa"), workflow_arn=BLUE
    )
    again, _ = logic.create_booking(
        repository, catalog, "alice", "k", NewBooking(flightId="FL-1", paymentToken="tok_visa"), workflow_arn=BLUE
    )
    assert again == first
    with pytest.raises(IdempotencyKeyReused):
        logic.create_booking(
            repository, catalog, "alice", "k", NewBooking(flightId="FL-2", paymentToken="tok_visa"), workflow_arn=BLUE
        )


@pytest.mark.parametrize(
    "body",
    [
        {"flightId": "FL-1"},
        {"flightId": "FL-1", "paymentToken": "tok_visa", "price": 1},
        {"flightId": "FL 1", "paymentToken": "tok_visa"},
        {"flightId": "FL-1", "paymentToken": "card-4242"},
        {"flightId": 1, "paymentToken": "tok_visa"},
    ],
)
def test_new_booking_refuses_bad_bodies(body: dict[str, Any]) -> None:
    with pytest.raises(RecordError):
        parse(NewBooking, body)


def test_workflow_payload_carries_defaults_for_the_compensation_path() -> None:
    import json

    _, workflow_input = logic.create_booking(
        FakeRepository(),
        FakeCatalog({"FL-1": Money(amount=5, currency="EUR")}),
        "alice",
        "key-1",
        NewBooking(flightId="FL-1", paymentToken="tok_visa"),
        workflow_arn=BLUE,
    )
    payload = json.loads(logic.workflow_payload(workflow_input))
    assert payload["failure"] == {"reason": "NONE"}
    assert payload["refund"] == {"status": "NONE"}
    assert payload["amount"] == {"amount": 5, "currency": "EUR"}


def test_visibility_owner_and_admin_only() -> None:
    repository = FakeRepository()
    repository.create(_booking())
    assert logic.visible_booking(repository, Caller(customer_id="alice"), "b-1").bookingId == "b-1"
    assert logic.visible_booking(repository, Caller(customer_id="op", groups=frozenset({"Admin"})), "b-1")
    with pytest.raises(BookingNotFound):
        logic.visible_booking(repository, Caller(customer_id="mallory"), "b-1")
    with pytest.raises(BookingNotFound):
        logic.visible_booking(repository, Caller(customer_id="alice"), "b-2")


@pytest.mark.parametrize(
    ("status", "reason", "outcome"),
    [
        (S.CONFIRMED, None, S.CANCELLING),
        (S.CANCELLING, None, S.CANCELLING),
        (S.CANCELLED, "CUSTOMER_CANCELLED", S.CANCELLED),
        (S.PENDING, None, None),
        (S.CANCELLED, "SOLD_OUT", None),
    ],
)
def test_request_cancellation(status: BookingStatus, reason: str | None, outcome: BookingStatus | None) -> None:
    repository = FakeRepository()
    repository.create(_booking(status=status, cancelReason=reason, paymentId="pay-1", settledAt="2026-11-28T12:02:00Z"))
    caller = Caller(customer_id="alice")
    if outcome is None:
        with pytest.raises(BookingNotCancellable):
            logic.request_cancellation(repository, caller, "b-1", CANCEL_BLUE)
    else:
        assert logic.request_cancellation(repository, caller, "b-1", CANCEL_BLUE).status == outcome


def test_only_the_owner_may_cancel_not_even_admin() -> None:
    repository = FakeRepository()
    repository.create(_booking(status=S.CONFIRMED, paymentId="pay-1", settledAt="2026-11-28T12:02:00Z"))
    with pytest.raises(BookingNotFound):
        logic.request_cancellation(
            repository, Caller(customer_id="op", groups=frozenset({"Admin"})), "b-1", CANCEL_BLUE
        )


def test_events_have_stable_ids_and_times_and_refunded_amounts() -> None:
    confirmed = _booking(status=S.CONFIRMED, confirmedAt="2026-11-28T12:01:00.000000Z", bookingReference="ABCDEF")
    event = logic.booking_event(confirmed, "BookingConfirmed")
    assert event.eventId == "b-1:BookingConfirmed"
    assert event.occurredAt == dt.datetime(2026, 11, 28, 12, 1, tzinfo=dt.UTC)
    assert event.amount.amount == 12050
    assert event == logic.booking_event(confirmed, "BookingConfirmed")

    refunded = _booking(
        status=S.CANCELLED, cancelReason="CUSTOMER_CANCELLED", refunded=True, cancelledAt=confirmed.confirmedAt
    )
    assert logic.booking_event(refunded, "BookingCancelled").amount.amount == 12050
    unpaid = _booking(status=S.CANCELLED, cancelReason="SOLD_OUT", cancelledAt=confirmed.confirmedAt)
    cancelled = logic.booking_event(unpaid, "BookingCancelled")
    assert (cancelled.amount.amount, cancelled.reason) == (0, "SOLD_OUT")


def test_no_confirmation_event_for_a_pending_booking_and_no_cancellation_event_for_a_live_one() -> None:
    with pytest.raises(BookingNotCancellable):
        logic.booking_event(_booking(), "BookingConfirmed")
    with pytest.raises(BookingNotCancellable):
        logic.booking_event(_booking(status=S.CONFIRMED), "BookingCancelled")


def test_a_confirmed_booking_whose_capture_is_still_running_cannot_be_cancelled_yet() -> None:
    repository = FakeRepository()
    repository.create(_booking(status=S.CONFIRMED, paymentId="pay-1"))
    with pytest.raises(BookingNotCancellable, match="being finalised"):
        logic.request_cancellation(repository, Caller(customer_id="alice"), "b-1", CANCEL_BLUE)
    assert repository.items["b-1"].status == S.CONFIRMED
