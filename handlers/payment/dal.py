"""Sandbox persistence: the payments table and the operations (idempotency) table.

The only payment module touching boto3. Every change of a payment is ONE
TransactWriteItems: the payment's conditional update (on its current status)
together with the completion of the operation's record (on `state = PENDING`),
so a result is stored exactly when its effect happens.
"""

from __future__ import annotations

import json
from typing import Any

from handlers.payment.errors import ERRORS_BY_NAME, PaymentDeclined, PaymentError
from handlers.payment.models import Operation, Payment, PaymentResult, PaymentStatus
from handlers.shared.clock import timestamp, utc_now
from handlers.shared.dynamo import DynamoStore, condition_failed_at, transient_cancellation
from handlers.shared.money import Money
from handlers.shared.records import dump, parse, record

PENDING = "PENDING"
COMPLETED = "COMPLETED"
RECORD_DAYS = 90


@record
class Outcome:
    """The first final result of an operation: a result, or a business error by name."""

    result: PaymentResult | None = None
    errorType: str | None = None
    errorMessage: str | None = None
    errorReason: str | None = None
    # The request that produced it: a later request with the same key must match it.
    fingerprint: str | None = None

    @classmethod
    def of(cls, result: PaymentResult, fingerprint: str) -> Outcome:
        return cls(result=result, fingerprint=fingerprint)

    @classmethod
    def failure(cls, error: PaymentError, fingerprint: str) -> Outcome:
        return cls(
            errorType=type(error).__name__,
            errorMessage=error.message,
            errorReason=getattr(error, "reason", None),
            fingerprint=fingerprint,
        )

    def replay(self) -> PaymentResult:
        """The stored result, or the stored error raised again."""
        if self.result is not None:
            return self.result
        if self.errorType == PaymentDeclined.__name__:
            raise PaymentDeclined(self.errorReason or "DECLINED", self.errorMessage)
        error = ERRORS_BY_NAME.get(self.errorType or "")
        if error is None:
            raise RuntimeError(f"Stored outcome names an unknown error: {self.errorType}")
        raise error(self.errorMessage or self.errorType or "")


@record
class OperationRecord:
    """A payment operation's idempotency record: its request fingerprint, attempts and outcome."""

    key: str
    fingerprint: str
    attempts: int
    outcome: Outcome | None = None


def _money(value: Money) -> dict[str, Any]:
    return {"M": {"amount": {"N": str(value.amount)}, "currency": {"S": value.currency}}}


def _money_from(attribute: dict[str, Any] | None) -> Money | None:
    if not attribute:
        return None
    return Money(amount=int(attribute["M"]["amount"]["N"]), currency=attribute["M"]["currency"]["S"])


def payment_item(payment: Payment) -> dict[str, Any]:
    item: dict[str, Any] = {
        "paymentId": {"S": payment.paymentId},
        "bookingId": {"S": payment.bookingId},
        "customerId": {"S": payment.customerId},
        "status": {"S": payment.status.value},
        "amount": _money(payment.amount),
        "tokenKind": {"S": payment.tokenKind},
        "createdAt": {"S": timestamp()},
    }
    if payment.declineReason:
        item["declineReason"] = {"S": payment.declineReason}
    return item


def payment_from(item: dict[str, Any]) -> Payment:
    amount = _money_from(item["amount"])
    assert amount is not None
    return Payment(
        paymentId=item["paymentId"]["S"],
        bookingId=item["bookingId"]["S"],
        customerId=item["customerId"]["S"],
        status=PaymentStatus(item["status"]["S"]),
        amount=amount,
        tokenKind=item["tokenKind"]["S"],
        declineReason=item.get("declineReason", {}).get("S"),
        capturedAmount=_money_from(item.get("capturedAmount")),
        refundedAmount=_money_from(item.get("refundedAmount")),
    )


def _outcome_from(item: dict[str, Any]) -> Outcome | None:
    if item.get("state", {}).get("S") != COMPLETED:
        return None
    fingerprint = item.get("fingerprint", {}).get("S")
    if "result" in item:
        return Outcome(result=parse(PaymentResult, json.loads(item["result"]["S"])), fingerprint=fingerprint)
    return Outcome(
        errorType=item.get("errorType", {}).get("S"),
        errorMessage=item.get("errorMessage", {}).get("S"),
        errorReason=item.get("errorReason", {}).get("S"),
        fingerprint=fingerprint,
    )


class DynamoPaymentStore(DynamoStore):
    def __init__(self, payments_table: str, operations_table: str, dynamodb: Any | None = None) -> None:
        self._payments = payments_table
        self._operations = operations_table
        super().__init__(dynamodb)

    # --- operation records ---------------------------------------------------------------------

    def begin(self, key: str, operation: Operation, fingerprint: str) -> OperationRecord:
        """Count one more attempt of `key` (atomic ADD). Once completed, the record's fingerprint
        is the request that completed it."""
        expires = int(utc_now().timestamp()) + RECORD_DAYS * 86400
        answer = self._client.update_item(
            TableName=self._operations,
            Key={"idempotencyKey": {"S": key}},
            UpdateExpression=(
                "SET #state = if_not_exists(#state, :pending), #operation = if_not_exists(#operation, :operation), "
                "fingerprint = if_not_exists(fingerprint, :fingerprint), createdAt = if_not_exists(createdAt, :now), "
                "expiresAt = if_not_exists(expiresAt, :expires) ADD attempts :one"
            ),
            ExpressionAttributeNames={"#state": "state", "#operation": "operation"},
            ExpressionAttributeValues={
                ":pending": {"S": PENDING},
                ":operation": {"S": operation.value},
                ":fingerprint": {"S": fingerprint},
                ":now": {"S": timestamp()},
                ":expires": {"N": str(expires)},
                ":one": {"N": "1"},
            },
            ReturnValues="ALL_NEW",
        )
        item = answer["Attributes"]
        return OperationRecord(
            key=key,
            fingerprint=item["fingerprint"]["S"],
            attempts=int(item["attempts"]["N"]),
            outcome=_outcome_from(item),
        )

    def completed(self, key: str) -> Outcome | None:
        """The stored outcome of `key`, if its operation completed."""
        item = self._client.get_item(
            TableName=self._operations, Key={"idempotencyKey": {"S": key}}, ConsistentRead=True
        ).get("Item")
        return _outcome_from(item or {})

    def _stored_outcome(self, key: str) -> Outcome:
        outcome = self.completed(key)
        if outcome is None:  # pragma: no cover - the failed condition said it was completed
            raise RuntimeError(f"Operation {key} is not completed")
        return outcome

    def _complete(self, key: str, outcome: Outcome) -> dict[str, Any]:
        values: dict[str, Any] = {
            ":completed": {"S": COMPLETED},
            ":pending": {"S": PENDING},
            ":now": {"S": timestamp()},
        }
        sets = ["#state = :completed", "completedAt = :now"]
        if outcome.fingerprint:
            values[":fingerprint"] = {"S": outcome.fingerprint}
            sets.append("fingerprint = :fingerprint")
        if outcome.result is not None:
            values[":result"] = {"S": json.dumps(dump(outcome.result, exclude_none=True), separators=(",", ":"))}
            values[":paymentId"] = {"S": outcome.result.paymentId}
            sets += ["#result = :result", "paymentId = :paymentId"]
        else:
            for field in ("errorType", "errorMessage", "errorReason"):
                value = getattr(outcome, field)
                if value is not None:
                    values[f":{field}"] = {"S": value}
                    sets.append(f"{field} = :{field}")
        return {
            "TableName": self._operations,
            "Key": {"idempotencyKey": {"S": key}},
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": "#state = :pending",
            "ExpressionAttributeNames": {"#state": "state", **({"#result": "result"} if outcome.result else {})},
            "ExpressionAttributeValues": values,
        }

    def finish(self, key: str, outcome: Outcome) -> Outcome:
        """Store an outcome that changes no payment (a processor refusal); the first stored one wins."""
        try:
            self._client.update_item(**self._complete(key, outcome))
        except self._client.exceptions.ConditionalCheckFailedException:
            return self._stored_outcome(key)
        return outcome

    def close(self, key: str, operation: Operation, outcome: Outcome) -> Outcome | None:
        """Complete `key` with `outcome` if it has not completed: begun or not, it can then never complete
        otherwise (an operation's payment write needs its record pending, in the same transaction).
        None when closed here; otherwise the outcome that holds."""
        update = self._complete(key, outcome)
        update["UpdateExpression"] += (
            ", #operation = if_not_exists(#operation, :operation), createdAt = if_not_exists(createdAt, :now), "
            "expiresAt = if_not_exists(expiresAt, :expires)"
        )
        update["ConditionExpression"] = "attribute_not_exists(idempotencyKey) OR #state = :pending"
        update["ExpressionAttributeNames"]["#operation"] = "operation"
        update["ExpressionAttributeValues"][":operation"] = {"S": operation.value}
        update["ExpressionAttributeValues"][":expires"] = {"N": str(int(utc_now().timestamp()) + RECORD_DAYS * 86400)}
        try:
            self._client.update_item(**update)
        except self._client.exceptions.ConditionalCheckFailedException:
            return self._stored_outcome(key)
        return None

    # --- payments ----------------------------------------------------------------------------------

    def payment(self, payment_id: str) -> Payment | None:
        item = self._client.get_item(
            TableName=self._payments, Key={"paymentId": {"S": payment_id}}, ConsistentRead=True
        ).get("Item")
        return payment_from(item) if item else None

    def create(self, payment: Payment, key: str, outcome: Outcome) -> Outcome | None:
        """Write a new payment and its operation's outcome at once.

        Answers the outcome that holds: ours, a concurrent twin's, or None when the
        payment exists without a pending record to complete (the caller rebuilds it).
        """
        write = {
            "Put": {
                "TableName": self._payments,
                "Item": payment_item(payment),
                "ConditionExpression": "attribute_not_exists(paymentId)",
            }
        }
        return self._write_with_outcome(write, key, outcome)

    def transition(
        self,
        payment_id: str,
        expected: PaymentStatus,
        new: PaymentStatus,
        *,
        key: str,
        outcome: Outcome,
        money_field: str | None = None,
        money: Money | None = None,
    ) -> Outcome | None:
        """Move a payment from `expected` to `new` and store the outcome, at once.

        None when the payment is no longer `expected` (the caller re-reads and decides);
        a concurrent twin's outcome when the record was completed meanwhile.
        """
        values: dict[str, Any] = {
            ":expected": {"S": expected.value},
            ":new": {"S": new.value},
            ":now": {"S": timestamp()},
        }
        sets = ["#status = :new", "updatedAt = :now"]
        if money_field and money:
            values[":money"] = _money(money)
            sets.append(f"{money_field} = :money")
        write = {
            "Update": {
                "TableName": self._payments,
                "Key": {"paymentId": {"S": payment_id}},
                "UpdateExpression": "SET " + ", ".join(sets),
                "ConditionExpression": "#status = :expected",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": values,
            }
        }
        return self._write_with_outcome(write, key, outcome)

    def _write_with_outcome(self, payment_write: dict[str, Any], key: str, outcome: Outcome) -> Outcome | None:
        """One transaction: the conditional payment write and the completion of the operation record.

        A twin completed the record first: its outcome. The payment's condition failed: None.
        """
        try:
            self._client.transact_write_items(TransactItems=[payment_write, {"Update": self._complete(key, outcome)}])
        except self._client.exceptions.TransactionCanceledException as exc:
            if condition_failed_at(exc, 1):
                return self._stored_outcome(key)
            if condition_failed_at(exc, 0):
                return None
            transient = transient_cancellation(exc)
            if transient is not None:
                raise transient from exc
            raise
        return outcome
