"""Booking handler tests against in-process moto: tables from the packaged platform template."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from localcloud.deploy import create_platform_tables
from tests.support.events import FakeLambdaContext, claims_for, http_event

ACCOUNT = "123456789012"
REGION = "eu-west-1"
TABLES = {
    "airline-local-bookings",
    "airline-local-booking-references",
    "airline-local-booking-idempotency",
    "airline-local-flights",
}
PASS_THROUGH = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


@dataclass
class BookingWorld:
    dynamodb: Any
    sfn: Any
    sqs: Any
    workflow_arn: str
    cancel_workflow_arn: str
    events_queue_url: str

    def add_flight(self, flight_id: str = "FL-1", price: int = 12050, seats: int = 10) -> str:
        self.dynamodb.put_item(
            TableName="airline-local-flights",
            Item={
                "flightId": {"S": flight_id},
                "flightNumber": {"S": "AB1234"},
                "departureAirportCode": {"S": "LHR"},
                "arrivalAirportCode": {"S": "CDG"},
                "departureTime": {"S": "2027-01-15T08:00:00Z"},
                "arrivalTime": {"S": "2027-01-15T10:15:00Z"},
                "priceAmount": {"N": str(price)},
                "priceCurrency": {"S": "EUR"},
                "seatCapacity": {"N": str(seats)},
                "seatsAvailable": {"N": str(seats)},
            },
        )
        return flight_id

    def clear_idempotency(self) -> None:
        """What 24 hours do to the Powertools idempotency records: they expire (TTL)."""
        table = "airline-local-booking-idempotency"
        for item in self.dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]:
            self.dynamodb.delete_item(TableName=table, Key={"id": item["id"]})

    def count(self, table: str) -> int:
        return len(self.dynamodb.scan(TableName=table, ConsistentRead=True)["Items"])

    def executions(self, arn: str | None = None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.sfn.list_executions(stateMachineArn=arn or self.workflow_arn)["executions"]
        return found

    def execution_input(self, name: str, arn: str | None = None) -> dict[str, Any]:
        prefix = (arn or self.workflow_arn).replace(":stateMachine:", ":execution:")
        described = self.sfn.describe_execution(executionArn=f"{prefix}:{name}")
        document: dict[str, Any] = json.loads(described["input"])
        return document

    def published(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.events_queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]


@pytest.fixture
def world(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> BookingWorld:
    create_platform_tables(dynamodb, "local", only=TABLES)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    role = f"arn:aws:iam::{ACCOUNT}:role/workflow"
    workflow = sfn.create_state_machine(name="airline-booking-local-workflow", definition=PASS_THROUGH, roleArn=role)
    cancel = sfn.create_state_machine(name="airline-booking-local-cancellation", definition=PASS_THROUGH, roleArn=role)
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="airline-local-booking-events")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="observer")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    for name, value in {
        "BOOKINGS_TABLE_NAME": "airline-local-bookings",
        "BOOKING_REFERENCES_TABLE_NAME": "airline-local-booking-references",
        "IDEMPOTENCY_TABLE_NAME": "airline-local-booking-idempotency",
        "FLIGHTS_TABLE_NAME": "airline-local-flights",
        "BOOKING_WORKFLOW_ARN": workflow["stateMachineArn"],
        "CANCEL_WORKFLOW_ARN": cancel["stateMachineArn"],
        "BOOKING_EVENTS_TOPIC_ARN": topic,
    }.items():
        monkeypatch.setenv(name, value)
    return BookingWorld(dynamodb, sfn, sqs, workflow["stateMachineArn"], cancel["stateMachineArn"], queue_url)


def config_now() -> Any:
    """The booking configuration the functions would parse from the environment now."""
    from handlers.booking.config import BookingConfig
    from handlers.shared.config import from_environment

    return from_environment(BookingConfig)


def api_adapters(**replaced: Any) -> Any:
    """The API's adapters as a cold start would build them from the environment now, some replaced."""
    from handlers.booking import api

    return dataclasses.replace(api.build_adapters(config_now()), **replaced)


def task_adapters(**replaced: Any) -> Any:
    from handlers.booking import tasks

    return dataclasses.replace(tasks.build_adapters(config_now()), **replaced)


def call(
    method: str,
    path: str,
    *,
    route: str | None = None,
    customer: str | None = "customer-1",
    groups: list[str] | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
    adapters: Any = None,
) -> tuple[int, dict[str, Any]]:
    from handlers.booking import api

    event = http_event(
        method,
        path,
        route=route,
        claims=claims_for(customer, groups=groups) if customer else None,
        body=body,
        headers=headers,
        query=query,
        path_parameters=path_parameters,
    )
    context = FakeLambdaContext(function_name="airline-booking-local-createBooking")
    answer = api.handler(event, context, adapters=adapters or api_adapters())
    return answer["statusCode"], json.loads(answer["body"])


def book(
    flight_id: str,
    key: str = "key-00000001",
    payment: str = "tok_visa",
    customer: str = "customer-1",
    adapters: Any = None,
) -> tuple[int, dict[str, Any]]:
    return call(
        "POST",
        "/bookings",
        customer=customer,
        body={"flightId": flight_id, "paymentToken": payment},
        headers={"Idempotency-Key": key},
        adapters=adapters,
    )
