"""Ledger and totals tables: the only loyalty module that touches boto3.

A booking's ledger entry and its customer's total always change in one
TransactWriteItems, guarded by conditions on the entry, so a redelivered or
concurrent event can never count twice and a total can never go below zero.
"""

from __future__ import annotations

from typing import Any

from handlers.loyalty.models import LedgerContention, LedgerEntry, LedgerInconsistent, LedgerStatus
from handlers.shared.dynamo import DynamoStore, cancellation_codes

_TRANSIENT_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


def _to_item(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "bookingId": {"S": entry.bookingId},
        "customerId": {"S": entry.customerId},
        "status": {"S": entry.status.value},
        "points": {"N": str(entry.points)},
        "eventId": {"S": entry.eventId},
        "updatedAt": {"S": entry.updatedAt},
    }


def _from_item(item: dict[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        bookingId=item["bookingId"]["S"],
        customerId=item["customerId"]["S"],
        status=LedgerStatus(item["status"]["S"]),
        points=int(item["points"]["N"]),
        eventId=item["eventId"]["S"],
        updatedAt=item["updatedAt"]["S"],
    )


class DynamoLoyaltyStore(DynamoStore):
    """The ledger (key bookingId) and the totals (key customerId) of the platform stack."""

    def __init__(self, ledger_table: str, totals_table: str, dynamodb: Any | None = None) -> None:
        self._ledger = ledger_table
        self._totals = totals_table
        super().__init__(dynamodb)

    # -- ledger (consumer) -------------------------------------------------------------

    def get(self, booking_id: str) -> LedgerEntry | None:
        answer = self._client.get_item(
            TableName=self._ledger, Key={"bookingId": {"S": booking_id}}, ConsistentRead=True
        )
        item = answer.get("Item")
        return _from_item(item) if item else None

    def credit(self, entry: LedgerEntry) -> LedgerEntry | None:
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._ledger,
                            "Item": _to_item(entry),
                            "ConditionExpression": "attribute_not_exists(bookingId)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._totals,
                            "Key": {"customerId": {"S": entry.customerId}},
                            "UpdateExpression": "ADD points :points SET updatedAt = :at",
                            "ExpressionAttributeValues": {
                                ":points": {"N": str(entry.points)},
                                ":at": {"S": entry.updatedAt},
                            },
                        }
                    },
                ]
            )
        except self._client.exceptions.TransactionCanceledException as exc:
            codes = cancellation_codes(exc)
            if codes[:1] == ["ConditionalCheckFailed"]:
                return self._existing(entry.bookingId)
            raise self._transient_or(exc, codes, entry) from exc
        return None

    def tombstone(self, entry: LedgerEntry) -> LedgerEntry | None:
        try:
            self._client.put_item(
                TableName=self._ledger,
                Item=_to_item(entry),
                ConditionExpression="attribute_not_exists(bookingId)",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return self._existing(entry.bookingId)
        return None

    def revoke(self, entry: LedgerEntry, event_id: str, at: str) -> bool:
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._ledger,
                            "Key": {"bookingId": {"S": entry.bookingId}},
                            "UpdateExpression": "SET #status = :revoked, revokedBy = :event, updatedAt = :at",
                            "ConditionExpression": (
                                "#status = :credited AND points = :points AND customerId = :customer"
                            ),
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": {
                                ":revoked": {"S": LedgerStatus.REVOKED.value},
                                ":credited": {"S": LedgerStatus.CREDITED.value},
                                ":points": {"N": str(entry.points)},
                                ":customer": {"S": entry.customerId},
                                ":event": {"S": event_id},
                                ":at": {"S": at},
                            },
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._totals,
                            "Key": {"customerId": {"S": entry.customerId}},
                            "UpdateExpression": "ADD points :minus SET updatedAt = :at",
                            "ConditionExpression": "points >= :points",
                            "ExpressionAttributeValues": {
                                ":minus": {"N": str(-entry.points)},
                                ":points": {"N": str(entry.points)},
                                ":at": {"S": at},
                            },
                        }
                    },
                ]
            )
        except self._client.exceptions.TransactionCanceledException as exc:
            codes = cancellation_codes(exc)
            if codes[:1] == ["ConditionalCheckFailed"]:
                return False  # the entry changed since we read it: the caller reads again
            if codes[1:2] == ["ConditionalCheckFailed"]:
                raise LedgerInconsistent(
                    f"revoking {entry.points} points of booking {entry.bookingId} would take the total of "
                    f"customer {entry.customerId} below zero"
                ) from exc
            raise self._transient_or(exc, codes, entry) from exc
        return True

    def _existing(self, booking_id: str) -> LedgerEntry:
        existing = self.get(booking_id)
        if existing is None:  # the entry that failed our condition cannot vanish: entries are never deleted
            raise LedgerContention(f"the ledger entry of booking {booking_id} is missing after a conflict")
        return existing

    @staticmethod
    def _transient_or(exc: Exception, codes: list[str], entry: LedgerEntry) -> Exception:
        if _TRANSIENT_REASONS.intersection(codes):
            return LedgerContention(f"booking {entry.bookingId}: transaction cancelled ({', '.join(codes)})")
        return exc

    # -- totals (API) ------------------------------------------------------------------

    def points(self, customer_id: str) -> int:
        answer = self._client.get_item(
            TableName=self._totals,
            Key={"customerId": {"S": customer_id}},
            ProjectionExpression="points",
        )
        item = answer.get("Item")
        return int(item["points"]["N"]) if item and "points" in item else 0
