"""What every DynamoDB data-access class shares: a lazy client, page tokens, cancellation reasons."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from handlers.shared.aws import client
from handlers.shared.errors import MalformedRequest, TransientError, WriteConflict, WriteThrottled

CONDITION_FAILED = "ConditionalCheckFailed"


class DynamoStore:
    """Base of the DAL classes: the client is created on first use (cold start) or injected (tests)."""

    def __init__(self, dynamodb: Any | None = None) -> None:
        self._dynamodb = dynamodb

    @property
    def _client(self) -> Any:
        if self._dynamodb is None:
            self._dynamodb = client("dynamodb")
        return self._dynamodb


def encode_page_token(last_key: dict[str, Any] | None) -> str | None:
    """An opaque page token for a DynamoDB LastEvaluatedKey (None on the last page)."""
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, separators=(",", ":")).encode()).decode()


def decode_page_token(token: str, attributes: frozenset[str] | None = None) -> dict[str, Any]:
    """The start key inside a page token; the caller checks it belongs to its query.

    With `attributes`, the key must be exactly those attributes, each a string
    (`{"S": str}`): a crafted token never reaches DynamoDB as a malformed key.
    """
    try:
        start_key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise MalformedRequest("nextToken is not a token this API issued") from exc
    if not isinstance(start_key, dict):
        raise MalformedRequest("nextToken is not a token this API issued")
    if attributes is not None and (
        set(start_key) != attributes
        or not all(
            isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str) and value["S"]
            for value in start_key.values()
        )
    ):
        raise MalformedRequest("nextToken is not a token this API issued")
    return start_key


def cancellation_reasons(exc: Exception) -> list[dict[str, Any]]:
    """The per-item reasons of a cancelled TransactWriteItems, in request order."""
    reasons: list[dict[str, Any]] = (getattr(exc, "response", {}) or {}).get("CancellationReasons") or []
    return reasons


def cancellation_codes(exc: Exception) -> list[str]:
    """The per-item codes of a cancelled TransactWriteItems ("None" where the item passed)."""
    return [reason.get("Code") or "None" for reason in cancellation_reasons(exc)]


def condition_failed_at(exc: Exception, index: int) -> bool:
    """Whether item `index` of a cancelled transaction failed its condition."""
    codes = cancellation_codes(exc)
    return len(codes) > index and codes[index] == CONDITION_FAILED


TRANSACTION_CONFLICT = "TransactionConflict"
_THROTTLED_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded"})


def transient_cancellation(exc: Exception) -> TransientError | None:
    """The transient error behind a cancelled transaction (by reason code), or None if it is not transient."""
    codes = cancellation_codes(exc)
    if TRANSACTION_CONFLICT in codes:
        return WriteConflict(f"Transaction cancelled by a concurrent write: {codes}")
    if _THROTTLED_REASONS.intersection(codes):
        return WriteThrottled(f"Transaction cancelled for throughput: {codes}")
    return None


def is_transaction_conflict(exc: Exception) -> bool:
    return TRANSACTION_CONFLICT in cancellation_codes(exc)
