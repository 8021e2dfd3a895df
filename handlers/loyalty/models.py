"""Loyalty models: the ledger entry of one booking, a customer's standing, the errors of the ledger."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from handlers.shared.records import Rules, record

Tier = Literal["bronze", "silver", "gold"]

# Same shape as handlers.shared.events.Identifier: what a customer id can look like.
CUSTOMER_ID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


class LedgerStatus(StrEnum):
    CREDITED = "CREDITED"  # the booking earned `points`, counted in the customer's total
    REVOKED = "REVOKED"  # it was cancelled after that: `points` were taken back, once
    CANCELLED_UNCONFIRMED = "CANCELLED_UNCONFIRMED"  # tombstone: cancelled before any confirmation arrived


@record
class LedgerEntry:
    """One booking in the ledger (key: bookingId); `points` is what it earned (0 for a tombstone)."""

    bookingId: str
    customerId: str
    status: LedgerStatus
    points: Annotated[int, Rules(strict=True, ge=0)]
    eventId: str
    updatedAt: str


@record
class LoyaltyStatus:
    """Body of `GET /loyalty`: `nextTier` and `pointsToNextTier` are null at the top tier."""

    points: int
    tier: Tier
    nextTier: Tier | None
    pointsToNextTier: int | None


class LedgerContention(Exception):
    """The booking's ledger entry or the customer's total kept changing under us: retry the message later."""


class LedgerInconsistent(Exception):
    """Revoking would take a total below zero: ledger and totals disagree. Never applied; the message fails."""
