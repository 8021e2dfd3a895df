"""Loyalty rules: points of an amount, tiers, and how one booking event moves the ledger (no boto3 here)."""

from __future__ import annotations

from enum import StrEnum

from handlers.loyalty.models import LedgerContention, LedgerEntry, LedgerStatus, LoyaltyStatus, Tier
from handlers.loyalty.ports import Ledger, Totals
from handlers.shared.auth import Caller
from handlers.shared.clock import timestamp
from handlers.shared.errors import Forbidden
from handlers.shared.events import BOOKING_CONFIRMED, BookingEvent
from handlers.shared.money import Money

SILVER_FROM = 50_000
GOLD_FROM = 100_000

# ISO 4217 currencies whose minor unit is not the cent (all others have two decimals).
_ZERO_DECIMALS = frozenset(
    {
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "UYI",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    }
)
_THREE_DECIMALS = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})

# A cancellation re-reads the ledger when a concurrent write beat it; this many rounds, then SQS retries.
MAX_CANCEL_ROUNDS = 3


def points_for(amount: Money) -> int:
    """One point per whole unit of the amount: 12050 cents of EUR is 120 points."""
    unit = 1 if amount.currency in _ZERO_DECIMALS else 1000 if amount.currency in _THREE_DECIMALS else 100
    return amount.amount // unit


def status_for(points: int) -> LoyaltyStatus:
    """Tier of a total: bronze < 50,000 <= silver < 100,000 <= gold."""
    if points < 0:
        raise ValueError("a loyalty total is never negative")
    tier: Tier
    next_tier: Tier
    if points >= GOLD_FROM:
        return LoyaltyStatus(points=points, tier="gold", nextTier=None, pointsToNextTier=None)
    if points >= SILVER_FROM:
        tier, next_tier, threshold = "silver", "gold", GOLD_FROM
    else:
        tier, next_tier, threshold = "bronze", "silver", SILVER_FROM
    return LoyaltyStatus(points=points, tier=tier, nextTier=next_tier, pointsToNextTier=threshold - points)


class Outcome(StrEnum):
    CREDITED = "CREDITED"  # a confirmation added its points
    REVOKED = "REVOKED"  # a cancellation took back what its booking had earned
    TOMBSTONED = "TOMBSTONED"  # a cancellation came first: the booking will never earn
    DUPLICATE = "DUPLICATE"  # the event (or an equivalent one) was already applied: nothing changed
    CONFIRMED_AFTER_CANCEL = "CONFIRMED_AFTER_CANCEL"  # a late confirmation of a cancelled booking: nothing earned


def apply_event(ledger: Ledger, event: BookingEvent, now: str | None = None) -> tuple[Outcome, LedgerEntry | None]:
    """Apply one booking event exactly once; returns what happened and the entry it found or wrote."""
    at = now or timestamp()
    if event.eventType == BOOKING_CONFIRMED:
        entry = LedgerEntry(
            bookingId=event.bookingId,
            customerId=event.customerId,
            status=LedgerStatus.CREDITED,
            points=points_for(event.amount),
            eventId=event.eventId,
            updatedAt=at,
        )
        existing = ledger.credit(entry)
        if existing is None:
            return Outcome.CREDITED, entry
        if existing.status is LedgerStatus.CANCELLED_UNCONFIRMED:
            return Outcome.CONFIRMED_AFTER_CANCEL, existing
        return Outcome.DUPLICATE, existing
    return _cancel(ledger, event, at)


def _cancel(ledger: Ledger, event: BookingEvent, at: str) -> tuple[Outcome, LedgerEntry | None]:
    for _ in range(MAX_CANCEL_ROUNDS):
        entry = ledger.get(event.bookingId)
        if entry is None:
            tombstone = LedgerEntry(
                bookingId=event.bookingId,
                customerId=event.customerId,
                status=LedgerStatus.CANCELLED_UNCONFIRMED,
                points=0,
                eventId=event.eventId,
                updatedAt=at,
            )
            if ledger.tombstone(tombstone) is None:
                return Outcome.TOMBSTONED, tombstone
            continue  # a confirmation landed in between: read again and revoke it
        if entry.status is not LedgerStatus.CREDITED:
            return Outcome.DUPLICATE, entry
        # Revoke what the ledger says this booking earned (not the event's amount), from the
        # customer it was credited to.
        if ledger.revoke(entry, event.eventId, at):
            return Outcome.REVOKED, entry
    raise LedgerContention(f"booking {event.bookingId} kept changing during its cancellation")


def loyalty_of(totals: Totals, customer_id: str) -> LoyaltyStatus:
    return status_for(totals.points(customer_id))


def ensure_may_read_any_customer(caller: Caller) -> None:
    if not caller.is_admin:
        raise Forbidden("Only members of the Admin group may read another customer's loyalty")
