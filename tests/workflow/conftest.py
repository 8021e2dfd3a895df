"""Workflow tests on the session's local cloud: the packaged stacks, every function in its own worker.

Tests drive the system as its clients and operators do: bookings through the HTTP API with real
tokens, functions by their deployed names through the Lambda Invoke API on the edge, faults and the
Step Functions retry clock through the control interface (`/_localcloud/faults`, `/_localcloud/clock`),
and read the outcome from the tables, the executions' histories and a queue subscribed to the
booking events topic. Nothing here imports a handler module.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from boto3.dynamodb.types import TypeDeserializer

from tests.e2e.conftest import RunningCloud

FLIGHTS = "airline-local-flights"
BOOKINGS = "airline-local-bookings"
PAYMENTS = "airline-local-payments"
REFERENCES = "airline-local-booking-references"
# Retry waits pass 20 times faster: a ladder of 12 attempts takes seconds, not minutes (what is
# retried, how often and in which order is unchanged).
RETRY_CLOCK_SCALE = 0.05
_deserialize = TypeDeserializer().deserialize


def fn(stack: str, name: str) -> str:
    return f"airline-{stack}-local-{name}"


RESERVE = fn("catalog", "reserveSeat")
RELEASE = fn("catalog", "releaseSeat")
AUTHORIZE = fn("payment", "authorizePayment")
CAPTURE = fn("payment", "capturePayment")
VOID = fn("payment", "voidPayment")
CONFIRM = fn("booking", "confirmBooking")
MARK_CANCELLED = fn("booking", "markBookingCancelled")
PUBLISH = fn("booking", "publishBookingEvent")
CREATE = fn("booking", "createBooking")
CANCEL = fn("booking", "cancelBooking")
RECONCILE = fn("booking", "reconcileBookings")


def plain(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _deserialize(value) for name, value in item.items()}


@dataclass
class Workflows:
    """The booking workflows of the session's local cloud, seen from outside."""

    cloud: RunningCloud
    events_queue: str
    machines: dict[str, str] = field(default_factory=dict)  # name suffix -> ARN

    # -- control interface --------------------------------------------------------------------
    def faults(self, *rules: dict[str, Any]) -> None:
        """Replace the fault rules (counts restart)."""
        answer = requests.put(f"{self.cloud.gateway_url}/_localcloud/faults", json=list(rules), timeout=10)
        assert answer.status_code == 200, answer.text

    def injected(self) -> list[int]:
        """How many times each rule struck, in the order given to `faults`."""
        rules = requests.get(f"{self.cloud.gateway_url}/_localcloud/faults", timeout=10).json()["rules"]
        return [int(rule["injected"]) for rule in rules]

    def clear_faults(self) -> None:
        requests.delete(f"{self.cloud.gateway_url}/_localcloud/faults", timeout=10).raise_for_status()

    def retry_clock(self, scale: float) -> None:
        answer = requests.put(
            f"{self.cloud.gateway_url}/_localcloud/clock", json={"stepfunctions_retry_scale": scale}, timeout=10
        )
        assert answer.status_code == 200, answer.text

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = requests.get(f"{self.cloud.gateway_url}/_localcloud/stats", timeout=10).json()
        return stats

    # -- clients' and operators' calls -----------------------------------------------------------
    def add_flight(self, *, seats: int, price: int = 12050, currency: str = "EUR") -> str:
        return self.cloud.add_flight(
            "WF1234", seats=seats, price=price, currency=currency, to="CDG", admin="workflow-admin"
        )

    def customer(self, name: str = "workflow-customer") -> tuple[str, str]:
        """(access token, customerId) of a signed-in customer."""
        tokens = self.cloud.user(name)
        return tokens.access, tokens.sub

    def post_booking(
        self, flight: str, card: str, *, customer: str = "workflow-customer", key: str | None = None
    ) -> requests.Response:
        token, _ = self.customer(customer)
        return requests.post(
            f"{self.cloud.api('booking')}/bookings",
            json={"flightId": flight, "paymentToken": card},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key or f"key-{uuid.uuid4().hex}"},
            timeout=60,
        )

    def cancel_booking(self, booking_id: str, *, customer: str = "workflow-customer") -> requests.Response:
        token, _ = self.customer(customer)
        return requests.post(
            f"{self.cloud.api('booking')}/bookings/{booking_id}/cancel",
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )

    def book(self, flight: str, card: str = "tok_visa", **kwargs: Any) -> tuple[str, dict[str, Any]]:
        """POST a booking, wait for its workflow to end: (bookingId, DescribeExecution)."""
        answer = self.post_booking(flight, card, **kwargs)
        assert answer.status_code == 202, answer.text
        booking_id: str = answer.json()["bookingId"]
        return booking_id, self.wait(self.execution_of(booking_id))

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        """A function by its deployed name, through the Lambda Invoke API on the edge."""
        answer = self.cloud.client("lambda").invoke(FunctionName=function, Payload=json.dumps(event).encode())
        payload = json.loads(answer["Payload"].read() or b"null")
        assert "FunctionError" not in answer, payload
        return payload

    # -- the world --------------------------------------------------------------------------------
    def machine(self, suffix: str = "-workflow") -> str:
        if suffix not in self.machines:
            listed = self.cloud.client("stepfunctions").list_state_machines()["stateMachines"]
            (arn,) = [m["stateMachineArn"] for m in listed if m["name"] == f"airline-booking-local{suffix}"]
            self.machines[suffix] = arn
        return self.machines[suffix]

    def execution_of(self, booking_id: str, suffix: str = "-workflow") -> str:
        return self.machine(suffix).replace(":stateMachine:", ":execution:") + f":{booking_id}"

    def describe(self, execution_arn: str) -> dict[str, Any]:
        described: dict[str, Any] = self.cloud.client("stepfunctions").describe_execution(executionArn=execution_arn)
        return described

    def wait(self, execution_arn: str, timeout: float = 180.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        sfn = self.cloud.client("stepfunctions")
        while True:
            try:
                described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
                if described["status"] != "RUNNING":
                    return described
            except sfn.exceptions.ExecutionDoesNotExist:
                pass  # started a moment later
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} not ended after {timeout}s")
            time.sleep(0.1)

    def wait_for_state(self, execution_arn: str, state: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while state not in self.states_entered(execution_arn):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} never entered {state}")
            time.sleep(0.05)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        pages = self.cloud.client("stepfunctions").get_paginator("get_execution_history")
        for page in pages.paginate(executionArn=execution_arn):
            events += page["events"]
        return events

    def states_entered(self, execution_arn: str) -> list[str]:
        try:
            return [
                e["stateEnteredEventDetails"]["name"]
                for e in self.history(execution_arn)
                if "stateEnteredEventDetails" in e
            ]
        except self.cloud.client("stepfunctions").exceptions.ExecutionDoesNotExist:
            return []

    def task_failures(self, execution_arn: str) -> list[tuple[str, str]]:
        """(state, error) of every failed task attempt, as Step Functions recorded it."""
        failures, state = [], ""
        for event in self.history(execution_arn):
            if "stateEnteredEventDetails" in event:
                state = event["stateEnteredEventDetails"]["name"]
            for key in (
                "lambdaFunctionFailedEventDetails",
                "lambdaFunctionTimedOutEventDetails",
                "taskFailedEventDetails",
            ):
                if key in event:
                    failures.append((state, event[key].get("error", "")))
        return failures

    def booking(self, booking_id: str) -> dict[str, Any]:
        item = (
            self.cloud.client("dynamodb")
            .get_item(TableName=BOOKINGS, Key={"bookingId": {"S": booking_id}}, ConsistentRead=True)
            .get("Item")
        )
        assert item, f"booking {booking_id} was not written"
        return plain(item)

    def seats_available(self, flight_id: str) -> int:
        item = self.cloud.client("dynamodb").get_item(
            TableName=FLIGHTS, Key={"flightId": {"S": flight_id}}, ConsistentRead=True
        )["Item"]
        return int(item["seatsAvailable"]["N"])

    def items_of(self, table: str, booking_ids: set[str] | str) -> list[dict[str, Any]]:
        wanted = {booking_ids} if isinstance(booking_ids, str) else booking_ids
        found: list[dict[str, Any]] = []
        pages = self.cloud.client("dynamodb").get_paginator("scan")
        for page in pages.paginate(TableName=table, ConsistentRead=True):
            found += [plain(i) for i in page["Items"] if i.get("bookingId", {}).get("S") in wanted]
        return found

    def payment_statuses(self, booking_id: str) -> list[str]:
        return [p["status"] for p in self.items_of(PAYMENTS, booking_id)]

    def published_events(self) -> list[dict[str, Any]]:
        """Every booking event published since the last call (drained from the test's subscription)."""
        sqs = self.cloud.client("sqs")
        out: list[dict[str, Any]] = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.events_queue, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return out
            for message in messages:
                envelope = json.loads(message["Body"])
                out.append(
                    {
                        "attributes": {k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()},
                        "event": json.loads(envelope["Message"]),
                    }
                )
                sqs.delete_message(QueueUrl=self.events_queue, ReceiptHandle=message["ReceiptHandle"])

    def events_for(self, booking_id: str) -> list[dict[str, Any]]:
        return [e for e in self.published_events() if e["event"].get("bookingId") == booking_id]

    def age(self, booking_id: str, *, minutes: int = 30) -> None:
        """Make an open booking look `minutes` old to the reconciler (its clock, compressed)."""
        then = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.cloud.client("dynamodb").update_item(
            TableName=BOOKINGS,
            Key={"bookingId": {"S": booking_id}},
            UpdateExpression="SET openSince = :then",
            ConditionExpression="attribute_exists(openSince)",
            ExpressionAttributeValues={":then": {"S": then}},
        )


@pytest.fixture(scope="session")
def workflows(cloud: RunningCloud) -> Iterator[Workflows]:
    """The booking workflows of the session's cloud, with a queue that receives every booking event."""
    sqs, sns = cloud.client("sqs"), cloud.client("sns")
    (topic,) = [
        t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":airline-local-booking-events")
    ]
    queue = sqs.create_queue(QueueName=f"workflow-observer-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)["SubscriptionArn"]
    try:
        yield Workflows(cloud, queue)
    finally:
        sns.unsubscribe(SubscriptionArn=subscription)
        sqs.delete_queue(QueueUrl=queue)


@pytest.fixture(scope="module", autouse=True)
def _fast_retries(workflows: Workflows) -> Iterator[None]:
    """Compressed retry waits for this module only (other tests of the session see real time)."""
    workflows.retry_clock(RETRY_CLOCK_SCALE)
    yield
    workflows.retry_clock(1.0)


@pytest.fixture(autouse=True)
def _no_faults_left(workflows: Workflows) -> Iterator[None]:
    workflows.clear_faults()
    yield
    workflows.clear_faults()
