"""Flights table access: the only catalog module that touches boto3."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Protocol

from handlers.catalog.models import Flight, FlightPage, search_key
from handlers.shared.aws import client
from handlers.shared.errors import Conflict, MalformedRequest

SEARCH_INDEX = "bySearchKey"


class FlightRepository(Protocol):
    def add(self, flight: Flight) -> None: ...

    def get(self, flight_id: str) -> Flight | None: ...

    def search(self, key: str, limit: int, next_token: str | None) -> FlightPage: ...


def encode_token(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, separators=(",", ":")).encode()).decode()


def decode_token(token: str | None, expected_key: str) -> dict[str, Any] | None:
    """The DynamoDB start key of a page token, which must belong to this search."""
    if token is None:
        return None
    try:
        start_key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise MalformedRequest("nextToken is not a token this API issued") from exc
    if not isinstance(start_key, dict) or start_key.get("searchKey", {}).get("S") != expected_key:
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
    if flight.seatsAvailable > 0:
        item["searchKey"] = {
            "S": search_key(flight.departureAirportCode, flight.arrivalAirportCode, flight.departure_date)
        }
    return item


def from_item(item: dict[str, Any]) -> Flight:
    return Flight(
        flightId=item["flightId"]["S"],
        flightNumber=item["flightNumber"]["S"],
        departureAirportCode=item["departureAirportCode"]["S"],
        arrivalAirportCode=item["arrivalAirportCode"]["S"],
        departureTime=item["departureTime"]["S"],
        arrivalTime=item["arrivalTime"]["S"],
        ticketPrice={"amount": int(item["priceAmount"]["N"]), "currency": item["priceCurrency"]["S"]},
        seatCapacity=int(item["seatCapacity"]["N"]),
        seatsAvailable=int(item["seatsAvailable"]["N"]),
    )


class DynamoFlightRepository:
    def __init__(self, table_name: str, dynamodb: Any | None = None) -> None:
        self._table = table_name
        self._dynamodb = dynamodb

    @property
    def _client(self) -> Any:
        if self._dynamodb is None:
            self._dynamodb = client("dynamodb")
        return self._dynamodb

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
