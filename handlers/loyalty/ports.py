"""The loyalty logic's ports: the ledger and the totals, as Protocols (the adapter lives in dal.py)."""

from __future__ import annotations

from typing import Protocol

from handlers.loyalty.models import LedgerEntry


class Ledger(Protocol):
    def get(self, booking_id: str) -> LedgerEntry | None: ...

    def credit(self, entry: LedgerEntry) -> LedgerEntry | None:
        """In one transaction: create `entry` and add its points to the customer's total.
        If the booking already has an entry, write nothing and return that entry."""

    def tombstone(self, entry: LedgerEntry) -> LedgerEntry | None:
        """Create the tombstone `entry`; if the booking already has an entry, write nothing and return it."""

    def revoke(self, entry: LedgerEntry, event_id: str, at: str) -> bool:
        """In one transaction: mark the CREDITED `entry` REVOKED and subtract its points from the total.
        False (nothing written) if the entry is no longer exactly `entry`."""


class Totals(Protocol):
    def points(self, customer_id: str) -> int: ...
