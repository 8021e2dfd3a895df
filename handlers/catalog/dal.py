"""Flights table access: the only catalog module that touches boto3."""

from __future__ import annotations

import random
import time
from typing import Any

from handlers.catalog.errors import FlightNotFound, ReservationConflict, SeatInventoryConflict, SoldOut
from handlers.catalog.models import Flight, FlightPage, SeatReleased, SeatRequest, SeatReserved, search_key
from handlers.shared.clock import timestamp
from handlers.shared.dynamo import (
    DynamoStore,
    cancellation_reasons,
    condition_failed_at,
    decode_page_token,
    encode_page_token,
    is_transaction_conflict,
    transient_cancellation,
)
from handlers.shared.errors import Conflict, MalformedRequest
from handlers.shared.money import Money

SEARCH_INDEX = "bySearchKey"
_SEARCH_PAGE_KEY = frozenset({"flightId", "searchKey", "departureTime"})  # table key + index keys
HELD = "HELD"
RELEASED = "RELEASED"
SEAT_WRITE_ATTEMPTS = 6  # tries of one seat transaction within an invocation (conflicts only)


encode_token = encode_page_token


def decode_token(token: str | None, expected_key: str) -> dict[str, Any] | None:
    """The DynamoDB start key of a page token, which must belong to this search."""
    if token is None:
        return None
    start_key = decode_page_token(token, _SEARCH_PAGE_KEY)
    if start_key["searchKey"]["S"] != expected_key:
        raise MalformedRequest("nextToken belongs to another search")
    return start_key


def _to_item(flight: Flight) -> dict[str, Any]:
    item: dict[str, Any] = {
        "flightId": {"S": flight.flightId},
        "flightNumber": {"S": flight.flightNumber},
        "departureAirportCode": {"S": flight.departureAirportCode},
        "arrivalAirportCode": {"S": flight.arrivalAirportCode},
        "departureTime": {"S": flight.departureTime},
        "arrivalTime": {"S": flight.arrivalTime},
        "priceAmount": {"N": str(flight.ticketPrice.amount)},
        "priceCurrency": {"S": flight.ticketPrice.currency},
        "seatCapacity": {"N": str(flight.seatCapacity)},
        "seatsAvailable": {"N": str(flight.seatsAvailable)},
    }
    route_key = search_key(flight.departureAirportCode, flight.arrivalAirportCode, flight.departure_date)
    item["routeKey"] = {"S": route_key}  # permanent: release restores searchKey from it
    if flight.seatsAvailable > 0:
        item["searchKey"] = {"S": route_key}
    return item


def from_item(item: dict[str, Any]) -> Flight:
    return Flight(
        flightId=item["flightId"]["S"],
        flightNumber=item["flightNumber"]["S"],
        departureAirportCode=item["departureAirportCode"]["S"],
        arrivalAirportCode=item["arrivalAirportCode"]["S"],
        departureTime=item["departureTime"]["S"],
        arrivalTime=item["arrivalTime"]["S"],
        ticketPrice=Money(amount=int(item["priceAmount"]["N"]), currency=item["priceCurrency"]["S"]),
        seatCapacity=int(item["seatCapacity"]["N"]),
        seatsAvailable=int(item["seatsAvailable"]["N"]),
    )


class DynamoFlightRepository(DynamoStore):
    def __init__(self, table_name: str, dynamodb: Any | None = None) -> None:
        self._table = table_name
        super().__init__(dynamodb)

    def add(self, flight: Flight) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=_to_item(flight),
                ConditionExpression="attribute_not_exists(flightId)",
            )
        except self._client.exceptions.ConditionalCheckFailedException as exc:
            raise Conflict(f"Flight {flight.flightId} already exists") from exc

    def get(self, flight_id: str) -> Flight | None:
        answer = self._client.get_item(TableName=self._table, Key={"flightId": {"S": flight_id}}, ConsistentRead=True)
        item = answer.get("Item")
        return from_item(item) if item else None

    def search(self, key: str, limit: int, next_token: str | None) -> FlightPage:
        # The index is sparse (sold-out flights carry no searchKey), so no filter
        # runs after the limit and a page is never short except the last.
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": SEARCH_INDEX,
            "KeyConditionExpression": "searchKey = :key",
            "ExpressionAttributeValues": {":key": {"S": key}},
            "Limit": limit,
        }
        start_key = decode_token(next_token, key)
        if start_key:
            request["ExclusiveStartKey"] = start_key
        answer = self._client.query(**request)
        flights = [from_item(item) for item in answer.get("Items", [])]
        return FlightPage(flights=flights, nextToken=encode_token(answer.get("LastEvaluatedKey")))

    def replace(self, old: Flight, new: Flight) -> bool:
        """Write `new` over `old` only if the stored flight still is `old` (optimistic lock).

        False when the flight changed in between (a seat was taken or released, or
        another admin edited it): the caller reads again and retries.
        """
        item = _to_item(new)
        names = {f"#{key}": key for key in item if key != "flightId"}
        values = {f":{key}": value for key, value in item.items() if key != "flightId"}
        sets = ", ".join(f"#{key} = :{key}" for key in item if key != "flightId")
        expression = f"SET {sets}" + ("" if "searchKey" in item else " REMOVE #searchKey")
        names["#searchKey"] = "searchKey"
        guarded = ("seatCapacity", "seatsAvailable", "departureTime", "arrivalTime", "priceAmount", "priceCurrency")
        old_item = _to_item(old)
        for key in guarded:
            values[f":old_{key}"] = old_item[key]
        condition = " AND ".join(f"#{key} = :old_{key}" for key in guarded)
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"flightId": {"S": old.flightId}},
                UpdateExpression=expression,
                ConditionExpression=f"attribute_exists(flightId) AND {condition}",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True


def _backoff(attempt: int) -> None:
    # full jitter, capped: many reservations of one flight contend for its counter item
    time.sleep(random.uniform(0, min(1.0, 0.05 * 2**attempt)))


def _retry_or_raise(exc: Exception, attempt: int) -> None:
    """After a cancelled seat transaction that no condition explains: back off and retry a conflict;
    past the last attempt raise it as transient (WriteConflict, WriteThrottled) so the workflow
    retries it, never as a business outcome; any other reason is raised as it is (a bug)."""
    if is_transaction_conflict(exc) and attempt < SEAT_WRITE_ATTEMPTS - 1:
        _backoff(attempt)
        return
    transient = transient_cancellation(exc)
    if transient is not None:
        raise transient from exc
    raise exc


class DynamoSeatInventory(DynamoStore):
    """Seats of the flights table, with one reservation item per booking.

    Reserve and release are each ONE TransactWriteItems over the flight's counter
    and the booking's reservation, so the counter moves exactly once per booking
    whatever the retries. The counter never leaves [0, seatCapacity]: both
    directions are conditional writes, never read-modify-write.
    """

    def __init__(self, flights_table: str, reservations_table: str, dynamodb: Any | None = None) -> None:
        self._flights = flights_table
        self._reservations = reservations_table
        super().__init__(dynamodb)

    def reserve(self, request: SeatRequest) -> SeatReserved:
        for attempt in range(SEAT_WRITE_ATTEMPTS):
            try:
                self._client.transact_write_items(TransactItems=self._reserve_items(request))
                break
            except self._client.exceptions.TransactionCanceledException as exc:
                reasons = cancellation_reasons(exc)
                if condition_failed_at(exc, 1):  # the booking already has a reservation: a replay
                    self._check_replay(request, reasons[1].get("Item") or self._reservation(request.bookingId))
                    break
                if condition_failed_at(exc, 0):
                    flight = reasons[0].get("Item")
                    if not flight:
                        raise FlightNotFound(f"Flight {request.flightId} does not exist") from exc
                    raise SoldOut(f"Flight {request.flightId} has no seat left") from exc
                _retry_or_raise(exc, attempt)
        return SeatReserved(
            bookingId=request.bookingId, flightId=request.flightId, seatsAvailable=self._settle_index(request.flightId)
        )

    def _reserve_items(self, request: SeatRequest) -> list[dict[str, Any]]:
        return [
            {
                "Update": {
                    "TableName": self._flights,
                    "Key": {"flightId": {"S": request.flightId}},
                    "UpdateExpression": "SET seatsAvailable = seatsAvailable - :one",
                    "ConditionExpression": "attribute_exists(flightId) AND seatsAvailable > :zero",
                    "ExpressionAttributeValues": {":one": {"N": "1"}, ":zero": {"N": "0"}},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            {
                "Put": {
                    "TableName": self._reservations,
                    "Item": {
                        "bookingId": {"S": request.bookingId},
                        "flightId": {"S": request.flightId},
                        "status": {"S": HELD},
                        "reservedAt": {"S": timestamp()},
                    },
                    "ConditionExpression": "attribute_not_exists(bookingId)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
        ]

    def _reservation(self, booking_id: str) -> dict[str, Any] | None:
        answer = self._client.get_item(
            TableName=self._reservations, Key={"bookingId": {"S": booking_id}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = answer.get("Item")
        return item

    @staticmethod
    def _check_replay(request: SeatRequest, existing: dict[str, Any] | None) -> None:
        """A repeated reserve returns the first result; anything else is a conflict."""
        if not existing:  # the reservation vanished between the write and the read: not ours to guess
            raise ReservationConflict(f"Booking {request.bookingId} has no readable reservation")
        if existing["flightId"]["S"] != request.flightId:
            held_on = existing["flightId"]["S"]
            raise ReservationConflict(f"Booking {request.bookingId} holds a seat on {held_on}, not {request.flightId}")
        if existing["status"]["S"] != HELD:
            raise ReservationConflict(f"Booking {request.bookingId} already released its seat")

    def _settle_index(self, flight_id: str) -> int:
        """Take a sold-out flight out of the search index; answer the seats left.

        Conditional on `seatsAvailable = 0` at the moment of the write, so a release
        that came in between (and put `searchKey` back) is never undone.
        """
        try:
            answer = self._client.update_item(
                TableName=self._flights,
                Key={"flightId": {"S": flight_id}},
                UpdateExpression="REMOVE searchKey",
                ConditionExpression="seatsAvailable = :zero",
                ExpressionAttributeValues={":zero": {"N": "0"}},
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return int(answer["Attributes"]["seatsAvailable"]["N"])
        except self._client.exceptions.ConditionalCheckFailedException as exc:
            item = getattr(exc, "response", {}).get("Item") or {}
            if "seatsAvailable" in item:
                return int(item["seatsAvailable"]["N"])
            current = self._client.get_item(
                TableName=self._flights, Key={"flightId": {"S": flight_id}}, ConsistentRead=True
            ).get("Item")
            if not current:
                raise FlightNotFound(f"Flight {flight_id} does not exist") from exc
            return int(current["seatsAvailable"]["N"])

    def release(self, request: SeatRequest) -> SeatReleased:
        for attempt in range(SEAT_WRITE_ATTEMPTS):
            try:
                self._client.transact_write_items(TransactItems=self._release_items(request))
                return SeatReleased(bookingId=request.bookingId, flightId=request.flightId, released=True)
            except self._client.exceptions.TransactionCanceledException as exc:
                if condition_failed_at(exc, 0):  # never reserved, already released, or another flight: nothing to do
                    return SeatReleased(bookingId=request.bookingId, flightId=request.flightId, released=False)
                if condition_failed_at(exc, 1):
                    raise SeatInventoryConflict(
                        f"Flight {request.flightId} is missing or already at capacity; "
                        f"the seat of booking {request.bookingId} stays held"
                    ) from exc
                _retry_or_raise(exc, attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _release_items(self, request: SeatRequest) -> list[dict[str, Any]]:
        return [
            {
                "Update": {
                    "TableName": self._reservations,
                    "Key": {"bookingId": {"S": request.bookingId}},
                    "UpdateExpression": "SET #status = :released, releasedAt = :now",
                    "ConditionExpression": "#status = :held AND flightId = :flight",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {
                        ":released": {"S": RELEASED},
                        ":held": {"S": HELD},
                        ":flight": {"S": request.flightId},
                        ":now": {"S": timestamp()},
                    },
                }
            },
            {
                "Update": {
                    "TableName": self._flights,
                    "Key": {"flightId": {"S": request.flightId}},
                    # Back in the search index in the same write: it has a seat again.
                    "UpdateExpression": "SET seatsAvailable = seatsAvailable + :one, searchKey = routeKey",
                    "ConditionExpression": "attribute_exists(flightId) AND seatsAvailable < seatCapacity",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
