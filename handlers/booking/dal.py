"""Booking data and AWS adapters: the only booking module that touches boto3."""

from __future__ import annotations

import hashlib
from typing import Any

from handlers.booking.errors import BookingNotCancellable, BookingNotFound, BookingNotPending, WorkflowUnavailable
from handlers.booking.models import Booking, BookingPage, BookingStatus
from handlers.booking.ports import ExecutionState, RedriveOutcome
from handlers.shared.aws import client
from handlers.shared.dynamo import (
    DynamoStore,
    cancellation_codes,
    decode_page_token,
    encode_page_token,
    transient_cancellation,
)
from handlers.shared.errors import MalformedRequest, ServiceUnavailable
from handlers.shared.events import BookingEvent
from handlers.shared.money import Money
from handlers.shared.tasks import is_transient_client_error

CUSTOMER_INDEX = "byCustomer"
# Sparse index of the bookings whose saga has not ended (PENDING, CONFIRMED until its
# BookingConfirmed is out, CANCELLING), spread over a few partition keys so a burst of
# bookings never makes one hot index partition; the reconciler queries every shard.
OPEN_INDEX = "byOpenSince"
OPEN_PREFIX = "OPEN#"
OPEN_SHARDS = 8


def _to_item(booking: Booking) -> dict[str, Any]:
    item: dict[str, Any] = {
        "bookingId": {"S": booking.bookingId},
        "customerId": {"S": booking.customerId},
        "flightId": {"S": booking.flightId},
        "status": {"S": booking.status.value},
        "priceAmount": {"N": str(booking.price.amount)},
        "priceCurrency": {"S": booking.price.currency},
        "createdAt": {"S": booking.createdAt},
        "updatedAt": {"S": booking.updatedAt},
    }
    for name in ("requestHash", "workflowStartedBy", "workflowInput", "cancellationStartedBy"):
        value = getattr(booking, name)
        if value is not None:
            item[name] = {"S": value}
    if booking.status in (BookingStatus.PENDING, BookingStatus.CANCELLING):
        item.update(_open_attributes(booking.bookingId, booking.updatedAt))
    return item


def _open_shard(booking_id: str) -> str:
    return f"{OPEN_PREFIX}{hashlib.sha256(booking_id.encode()).digest()[0] % OPEN_SHARDS:02d}"


def _open_attributes(booking_id: str, since: str) -> dict[str, Any]:
    """The sparse `byOpenSince` index entry of a booking whose saga has not ended."""
    return {"openKey": {"S": _open_shard(booking_id)}, "openSince": {"S": since}}


def from_item(item: dict[str, Any]) -> Booking:
    def text(name: str) -> str | None:
        value = item.get(name)
        return value["S"] if value else None

    return Booking(
        bookingId=item["bookingId"]["S"],
        customerId=item["customerId"]["S"],
        flightId=item["flightId"]["S"],
        status=BookingStatus(item["status"]["S"]),
        price=Money(amount=int(item["priceAmount"]["N"]), currency=item["priceCurrency"]["S"]),
        createdAt=item["createdAt"]["S"],
        updatedAt=item["updatedAt"]["S"],
        bookingReference=text("bookingReference"),
        paymentId=text("paymentId"),
        cancelReason=text("cancelReason"),
        confirmedAt=text("confirmedAt"),
        cancelledAt=text("cancelledAt"),
        refunded=bool(item.get("refunded", {}).get("BOOL", False)),
        settledAt=text("settledAt"),
        requestHash=text("requestHash"),
        workflowStartedBy=text("workflowStartedBy"),
        workflowInput=text("workflowInput"),
        cancellationStartedBy=text("cancellationStartedBy"),
    )


encode_token = encode_page_token


def decode_token(token: str | None, customer_id: str) -> dict[str, Any] | None:
    """The start key of a page token, which must be one of this customer's pages."""
    if token is None:
        return None
    start_key = decode_page_token(token, frozenset({"bookingId", "customerId", "createdAt"}))
    if start_key["customerId"]["S"] != customer_id:
        raise MalformedRequest("nextToken is not a token this API issued")
    return start_key


class DynamoBookingRepository(DynamoStore):
    def __init__(self, table_name: str, references_table_name: str, dynamodb: Any | None = None) -> None:
        self._table = table_name
        self._references = references_table_name
        super().__init__(dynamodb)

    def _key(self, booking_id: str) -> dict[str, Any]:
        return {"bookingId": {"S": booking_id}}

    def create(self, booking: Booking) -> Booking | None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=_to_item(booking),
                ConditionExpression="attribute_not_exists(bookingId)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._client.exceptions.ConditionalCheckFailedException as exc:
            old = exc.response.get("Item")
            return from_item(old) if old else self.get(booking.bookingId)
        return None

    def get(self, booking_id: str) -> Booking | None:
        answer = self._client.get_item(TableName=self._table, Key=self._key(booking_id), ConsistentRead=True)
        item = answer.get("Item")
        return from_item(item) if item else None

    def _require(self, booking_id: str) -> Booking:
        booking = self.get(booking_id)
        if booking is None:
            raise BookingNotFound(f"Booking {booking_id} does not exist")
        return booking

    def list_for_customer(self, customer_id: str, limit: int, next_token: str | None) -> BookingPage:
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": CUSTOMER_INDEX,
            "KeyConditionExpression": "customerId = :customer",
            "ExpressionAttributeValues": {":customer": {"S": customer_id}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        start_key = decode_token(next_token, customer_id)
        if start_key:
            request["ExclusiveStartKey"] = start_key
        answer = self._client.query(**request)
        bookings = [from_item(item) for item in answer.get("Items", [])]
        return BookingPage(bookings=bookings, nextToken=encode_token(answer.get("LastEvaluatedKey")))

    def confirm(self, booking_id: str, payment_id: str, reference: str, at: str) -> Booking | None:
        """One transaction: claim the reference and move PENDING -> CONFIRMED."""
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._references,
                            "Item": {
                                "bookingReference": {"S": reference},
                                "bookingId": {"S": booking_id},
                                "createdAt": {"S": at},
                            },
                            "ConditionExpression": "attribute_not_exists(bookingReference)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": self._key(booking_id),
                            "UpdateExpression": (
                                "SET #status = :confirmed, bookingReference = :reference, "
                                "paymentId = :payment, confirmedAt = :at, updatedAt = :at REMOVE workflowInput"
                            ),
                            "ConditionExpression": "#status = :pending",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": {
                                ":confirmed": {"S": BookingStatus.CONFIRMED.value},
                                ":pending": {"S": BookingStatus.PENDING.value},
                                ":reference": {"S": reference},
                                ":payment": {"S": payment_id},
                                ":at": {"S": at},
                            },
                        }
                    },
                ]
            )
        except self._client.exceptions.TransactionCanceledException as exc:
            reasons = cancellation_codes(exc)
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                booking = self._require(booking_id)
                if booking.status == BookingStatus.CONFIRMED and booking.paymentId == payment_id:
                    return booking  # this task already ran: the same answer again
                raise BookingNotPending(f"Booking {booking_id} is {booking.status.value}, not PENDING") from exc
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return None  # the reference is taken: draw another
            transient = transient_cancellation(exc)
            if transient is not None:
                raise transient from exc
            raise
        return self._require(booking_id)

    def _transition(
        self,
        booking_id: str,
        from_statuses: frozenset[BookingStatus],
        set_expression: str,
        values: dict[str, Any],
    ) -> Booking | None:
        names = {f":from{i}": {"S": status.value} for i, status in enumerate(sorted(from_statuses))}
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=self._key(booking_id),
                UpdateExpression=set_expression,
                ConditionExpression=f"#status IN ({', '.join(names)})",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={**names, **values},
                ReturnValues="ALL_NEW",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        return from_item(answer["Attributes"])

    def cancel(
        self, booking_id: str, reason: str, from_statuses: frozenset[BookingStatus], refunded: bool, at: str
    ) -> Booking:
        cancelled = self._transition(
            booking_id,
            from_statuses,
            "SET #status = :cancelled, cancelReason = :reason, refunded = :refunded, "
            "cancelledAt = :at, updatedAt = :at REMOVE openKey, openSince, workflowInput",
            {
                ":cancelled": {"S": BookingStatus.CANCELLED.value},
                ":reason": {"S": reason},
                ":refunded": {"BOOL": refunded},
                ":at": {"S": at},
            },
        )
        if cancelled is not None:
            return cancelled
        booking = self._require(booking_id)
        if booking.status == BookingStatus.CANCELLED:
            return booking  # already cancelled: a retried task answers the same
        raise BookingNotCancellable(f"Booking {booking_id} is {booking.status.value}")

    def mark_settled(self, booking_id: str, at: str) -> None:
        """Record that the confirmation was published (only while CONFIRMED; a repeat keeps the first time)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(booking_id),
                UpdateExpression="SET settledAt = if_not_exists(settledAt, :at) REMOVE openKey, openSince",
                ConditionExpression="#status = :confirmed",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":at": {"S": at}, ":confirmed": {"S": BookingStatus.CONFIRMED.value}},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return

    def mark_cancelling(self, booking_id: str, at: str, cancel_workflow_arn: str) -> Booking:
        open_entry = _open_attributes(booking_id, at)
        moved = self._transition(
            booking_id,
            frozenset({BookingStatus.CONFIRMED}),
            "SET #status = :cancelling, updatedAt = :at, cancellationStartedBy = :machine, "
            "openKey = :openKey, openSince = :at",
            {
                ":cancelling": {"S": BookingStatus.CANCELLING.value},
                ":at": {"S": at},
                ":machine": {"S": cancel_workflow_arn},
                ":openKey": open_entry["openKey"],
            },
        )
        if moved is not None:
            return moved
        booking = self._require(booking_id)
        if booking.status == BookingStatus.CANCELLING:
            return booking
        raise BookingNotCancellable(f"Booking {booking_id} is {booking.status.value}")

    def open_before(self, cutoff: str, limit: int) -> list[str]:
        """Ids of bookings whose saga has been open since before `cutoff`, oldest first per shard."""
        found: list[str] = []
        for shard in range(OPEN_SHARDS):
            request: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": OPEN_INDEX,
                "KeyConditionExpression": "openKey = :key AND openSince < :cutoff",
                "ExpressionAttributeValues": {
                    ":key": {"S": f"{OPEN_PREFIX}{shard:02d}"},
                    ":cutoff": {"S": cutoff},
                },
            }
            while len(found) < limit:
                answer = self._client.query(**request, Limit=limit - len(found))
                found += [item["bookingId"]["S"] for item in answer.get("Items", [])]
                if "LastEvaluatedKey" not in answer:
                    break
                request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return found


class DynamoFlightCatalog:
    """Reads the price of a flight from the catalog's table (GetItem, consistent)."""

    def __init__(self, table_name: str, dynamodb: Any | None = None) -> None:
        self._table = table_name
        self._dynamodb = dynamodb

    def price_of(self, flight_id: str) -> Money | None:
        dynamodb = self._dynamodb or client("dynamodb")
        answer = dynamodb.get_item(
            TableName=self._table,
            Key={"flightId": {"S": flight_id}},
            ProjectionExpression="priceAmount, priceCurrency",
            ConsistentRead=True,
        )
        item = answer.get("Item")
        if not item:
            return None
        return Money(amount=int(item["priceAmount"]["N"]), currency=item["priceCurrency"]["S"])


class StepFunctionsStarter:
    def __init__(self, stepfunctions: Any | None = None) -> None:
        self._sfn = stepfunctions

    def start(self, state_machine_arn: str, name: str, payload: str) -> bool:
        sfn = self._sfn or client("stepfunctions")
        try:
            sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=payload)
        except sfn.exceptions.ExecutionAlreadyExists:
            return False  # Step Functions refuses a second execution of one booking: already started
        except Exception as exc:
            from botocore.exceptions import BotoCoreError, ClientError

            if isinstance(exc, ClientError | BotoCoreError):  # refused, throttled or unreachable
                raise WorkflowUnavailable("The booking workflow could not be started; retry with the same key") from exc
            raise
        return True


def execution_arn(state_machine_arn: str, name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


_STOPPED = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})


class StepFunctionsRuns(StepFunctionsStarter):
    """Executions by deterministic name: their state, a (re)start, a redrive."""

    def state(self, state_machine_arn: str, name: str) -> ExecutionState:
        sfn = self._sfn or client("stepfunctions")
        try:
            status = sfn.describe_execution(executionArn=execution_arn(state_machine_arn, name))["status"]
        except sfn.exceptions.ExecutionDoesNotExist:
            return ExecutionState.NOT_STARTED
        if status in _STOPPED:
            return ExecutionState.STOPPED
        return ExecutionState.SUCCEEDED if status == "SUCCEEDED" else ExecutionState.RUNNING

    def redrive(self, state_machine_arn: str, name: str) -> RedriveOutcome:
        sfn = self._sfn or client("stepfunctions")
        try:
            sfn.redrive_execution(executionArn=execution_arn(state_machine_arn, name))
        except sfn.exceptions.ExecutionNotRedrivable:
            return RedriveOutcome.NOT_REDRIVABLE
        except sfn.exceptions.ClientError as exc:
            if is_transient_client_error(exc):
                raise ServiceUnavailable("RedriveExecution failed; the next run tries again") from exc
            raise
        return RedriveOutcome.REDRIVEN


class SnsEventPublisher:
    def __init__(self, topic_arn: str, sns: Any | None = None) -> None:
        self._topic = topic_arn
        self._sns = sns

    def publish(self, event: BookingEvent) -> str:
        sns = self._sns or client("sns")
        answer = sns.publish(
            TopicArn=self._topic,
            Message=event.to_message(),
            MessageAttributes=event.message_attributes(),
        )
        return str(answer["MessageId"])


def idempotency_store(table_name: str, dynamodb: Any | None = None) -> Any:
    """Powertools' DynamoDB persistence layer for the idempotency records (built on first use: cold start)."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(table_name=table_name, boto3_client=dynamodb or client("dynamodb"))
