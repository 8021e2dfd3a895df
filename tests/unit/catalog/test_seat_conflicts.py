"""Seat transactions that DynamoDB cancels for contention are retried, never taken for a sold-out flight."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from handlers.catalog.dal import SEAT_WRITE_ATTEMPTS, DynamoSeatInventory
from handlers.catalog.errors import SoldOut
from handlers.catalog.models import SeatRequest
from handlers.shared.errors import WriteConflict, WriteThrottled

_DYNAMODB = boto3.client("dynamodb", region_name="eu-west-1")


class ContendedDynamoDb:
    """A DynamoDB client whose transactions are cancelled with the given reasons, then succeed."""

    exceptions = _DYNAMODB.exceptions

    def __init__(self, cancellations: list[tuple[str, ...]], seats_left: int = 3) -> None:
        self.cancellations = list(cancellations)
        self.seats_left = seats_left
        self.transactions = 0

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:
        self.transactions += 1
        if self.cancellations:
            codes = self.cancellations.pop(0)
            raise self.exceptions.TransactionCanceledException(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                    "CancellationReasons": [{"Code": code} for code in codes],
                },
                "TransactWriteItems",
            )
        return {}

    def update_item(self, **request: Any) -> dict[str, Any]:  # the sold-out index settle
        raise self.exceptions.ConditionalCheckFailedException(
            {"Error": {"Code": "ConditionalCheckFailedException"}, "Item": {"seatsAvailable": {"N": "3"}}},
            "UpdateItem",
        )


REQUEST = SeatRequest(bookingId="b-1", flightId="FL-1")


def test_a_conflict_then_success_holds_the_seat() -> None:
    dynamodb = ContendedDynamoDb([("TransactionConflict", "None"), ("TransactionConflict", "None")])

    reserved = DynamoSeatInventory("flights", "reservations", dynamodb).reserve(REQUEST)

    assert reserved.seatsAvailable == 3
    assert dynamodb.transactions == 3


def test_conflicts_past_the_data_layers_retries_are_a_transient_write_conflict_not_sold_out() -> None:
    dynamodb = ContendedDynamoDb([("TransactionConflict", "None")] * (SEAT_WRITE_ATTEMPTS + 4))

    with pytest.raises(WriteConflict):
        DynamoSeatInventory("flights", "reservations", dynamodb).reserve(REQUEST)
    assert dynamodb.transactions == SEAT_WRITE_ATTEMPTS


def test_a_throttled_transaction_is_transient() -> None:
    with pytest.raises(WriteThrottled):
        DynamoSeatInventory("flights", "reservations", ContendedDynamoDb([("ThrottlingError", "None")])).reserve(
            REQUEST
        )


def test_a_failed_seat_condition_on_an_existing_flight_is_sold_out() -> None:
    dynamodb = ContendedDynamoDb([])

    def sold_out(**_: Any) -> dict[str, Any]:
        raise dynamodb.exceptions.TransactionCanceledException(
            {
                "Error": {"Code": "TransactionCanceledException"},
                "CancellationReasons": [
                    {"Code": "ConditionalCheckFailed", "Item": {"flightId": {"S": "FL-1"}}},
                    {"Code": "None"},
                ],
            },
            "TransactWriteItems",
        )

    dynamodb.transact_write_items = sold_out  # type: ignore[method-assign,assignment]
    with pytest.raises(SoldOut):
        DynamoSeatInventory("flights", "reservations", dynamodb).reserve(REQUEST)


def test_a_release_conflicting_past_its_retries_is_transient() -> None:
    with pytest.raises(WriteConflict):
        DynamoSeatInventory("f", "r", ContendedDynamoDb([("None", "TransactionConflict")] * 10)).release(REQUEST)
