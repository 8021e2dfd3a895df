"""How booking events move the ledger, over an in-memory ledger with the same contract as the DynamoDB one."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

import pytest

from handlers.loyalty.logic import MAX_CANCEL_ROUNDS, Outcome, apply_event, ensure_may_read_any_customer
from handlers.loyalty.models import LedgerContention, LedgerEntry, LedgerStatus
from handlers.shared.auth import Caller
from handlers.shared.errors import Forbidden
from handlers.shared.events import BookingEvent
from handlers.shared.money import Money


class MemoryLedger:
    """Ledger entries and totals in dicts; `before_write` lets a test slip a concurrent write in."""

    def __init__(self) -> None:
        self.entries: dict[str, LedgerEntry] = {}
        self.totals: dict[str, int] = {}
        self.before_write: Callable[[], object] | None = None

    def _race(self) -> None:
        if self.before_write:
            hook, self.before_write = self.before_write, None
            hook()

    def get(self, booking_id: str) -> LedgerEntry | None:
        return self.entries.get(booking_id)

    def credit(self, entry: LedgerEntry) -> LedgerEntry | None:
        self._race()
        if entry.bookingId in self.entries:
            return self.entries[entry.bookingId]
        self.entries[entry.bookingId] = entry
        self.totals[entry.customerId] = self.totals.get(entry.customerId, 0) + entry.points
        return None

    def tombstone(self, entry: LedgerEntry) -> LedgerEntry | None:
        self._race()
        if entry.bookingId in self.entries:
            return self.entries[entry.bookingId]
        self.entries[entry.bookingId] = entry
        return None

    def revoke(self, entry: LedgerEntry, event_id: str, at: str) -> bool:
        self._race()
        if self.entries.get(entry.bookingId) != entry:
            return False
        self.entries[entry.bookingId] = dataclasses.replace(entry, status=LedgerStatus.REVOKED, eventId=event_id)
        self.totals[entry.customerId] -= entry.points
        return True


def event(kind: str, booking: str = "b-1", customer: str = "c-1", amount: int = 12050, n: int = 1) -> BookingEvent:
    return BookingEvent(
        eventId=f"{kind}-{booking}-{n}",
        eventType=kind,
        occurredAt=dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC),
        bookingId=booking,
        customerId=customer,
        flightId="f-1",
        amount=Money(amount=amount, currency="EUR"),
    )


CONFIRMED, CANCELLED = "BookingConfirmed", "BookingCancelled"


def test_a_confirmation_credits_once_however_often_it_arrives() -> None:
    ledger = MemoryLedger()

    outcomes = [apply_event(ledger, event(CONFIRMED, n=n))[0] for n in range(3)]

    assert outcomes == [Outcome.CREDITED, Outcome.DUPLICATE, Outcome.DUPLICATE]
    assert ledger.totals == {"c-1": 120}


def test_a_cancellation_revokes_what_the_booking_earned_not_what_the_event_says() -> None:
    ledger = MemoryLedger()
    apply_event(ledger, event(CONFIRMED, amount=12050))
    apply_event(ledger, event(CONFIRMED, booking="b-2", amount=30000))

    outcome, entry = apply_event(ledger, event(CANCELLED, amount=99_999_00))
    again, _ = apply_event(ledger, event(CANCELLED, n=2))

    assert (outcome, again) == (Outcome.REVOKED, Outcome.DUPLICATE)
    assert entry is not None
    assert entry.points == 120
    assert ledger.totals == {"c-1": 300}


def test_a_cancellation_before_the_confirmation_leaves_a_tombstone_and_the_confirmation_earns_nothing() -> None:
    ledger = MemoryLedger()

    first, _ = apply_event(ledger, event(CANCELLED))
    late, _ = apply_event(ledger, event(CONFIRMED))

    assert (first, late) == (Outcome.TOMBSTONED, Outcome.CONFIRMED_AFTER_CANCEL)
    assert ledger.totals.get("c-1", 0) == 0
    assert ledger.entries["b-1"].status is LedgerStatus.CANCELLED_UNCONFIRMED


def test_a_confirmation_that_lands_while_the_cancellation_writes_its_tombstone_is_revoked() -> None:
    # Given the cancellation read "no entry", then the confirmation committed before the tombstone
    ledger = MemoryLedger()
    ledger.before_write = lambda: apply_event(ledger, event(CONFIRMED))

    outcome, _ = apply_event(ledger, event(CANCELLED))

    assert outcome is Outcome.REVOKED
    assert ledger.totals == {"c-1": 0}
    assert ledger.entries["b-1"].status is LedgerStatus.REVOKED


def test_a_ledger_that_keeps_changing_fails_the_message_for_a_retry() -> None:
    class Flapping(MemoryLedger):
        def revoke(self, entry: LedgerEntry, event_id: str, at: str) -> bool:
            self.rounds = getattr(self, "rounds", 0) + 1
            return False

    ledger = Flapping()
    apply_event(ledger, event(CONFIRMED))

    with pytest.raises(LedgerContention):
        apply_event(ledger, event(CANCELLED))
    assert ledger.rounds == MAX_CANCEL_ROUNDS
    assert ledger.totals == {"c-1": 120}


def test_only_admin_reads_another_customer() -> None:
    ensure_may_read_any_customer(Caller(customer_id="a", groups=frozenset({"Admin"})))
    with pytest.raises(Forbidden):
        ensure_may_read_any_customer(Caller(customer_id="c", groups=frozenset({"Customers"})))
