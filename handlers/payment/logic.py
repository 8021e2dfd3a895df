"""Payment rules: what each operation may do to a payment, and the task entry logic.

No boto3 here. The rules are pure functions over the stored payment; the
provider (handlers/payment/provider.py) applies them with conditional writes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from handlers.payment.errors import (
    InvalidPaymentRequest,
    PaymentAlreadyCaptured,
    PaymentCaptureFailed,
    PaymentNotAuthorized,
    PaymentNotCaptured,
    RefundFailed,
)
from handlers.payment.models import (
    SANDBOX_TOKENS,
    AuthorizeRequest,
    Operation,
    Payment,
    PaymentReference,
    PaymentResult,
    PaymentStatus,
    TokenBehaviour,
)
from handlers.payment.ports import PaymentProvider
from handlers.shared.money import Money
from handlers.shared.tasks import parse_task_input


def idempotency_key(booking_id: str, operation: Operation) -> str:
    """The workflow's key per booking and operation: `<bookingId>:authorize`, `:capture`, ..."""
    return f"{booking_id}:{operation.value}"


def payment_id_for(key: str) -> str:
    """One payment per authorization key, whatever the retries: the id derives from the key."""
    return "pay_" + hashlib.sha256(key.encode()).hexdigest()[:32]


def fingerprint(fields: dict[str, Any]) -> str:
    """Hash of a request, stored with its key so that a reused key with another request is refused."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def token_behaviour(token: str) -> TokenBehaviour:
    behaviour = SANDBOX_TOKENS.get(token)
    if behaviour is None:
        raise InvalidPaymentRequest("Unknown payment token for the sandbox provider (see docs/payment.md)")
    return behaviour


def _same_currency(requested: Money, held: Money, error: type[Exception]) -> None:
    if requested.currency != held.currency:
        raise error(f"Amount is in {requested.currency}, the payment in {held.currency}")


def capture_amount(payment: Payment, requested: Money | None) -> Money:
    """Capture only an AUTHORIZED (so neither voided nor captured) payment, at most the authorized amount."""
    if payment.status is not PaymentStatus.AUTHORIZED:
        raise PaymentCaptureFailed(f"Payment {payment.paymentId} is {payment.status}, not AUTHORIZED")
    amount = requested or payment.amount
    _same_currency(amount, payment.amount, PaymentCaptureFailed)
    if amount.amount > payment.amount.amount:
        raise PaymentCaptureFailed(
            f"Capture of {amount.amount} exceeds the authorized {payment.amount.amount} {payment.amount.currency}"
        )
    if amount.amount <= 0:
        raise PaymentCaptureFailed("A capture must take a positive amount")
    return amount


def may_void(payment: Payment) -> bool:
    """True: void it now. False: it is already voided (same answer). Otherwise an error."""
    if payment.status is PaymentStatus.VOIDED:
        return False
    if payment.status in (PaymentStatus.CAPTURED, PaymentStatus.REFUNDED):
        raise PaymentAlreadyCaptured(f"Payment {payment.paymentId} was captured: refund it instead")
    if payment.status is not PaymentStatus.AUTHORIZED:
        raise PaymentNotAuthorized(f"Payment {payment.paymentId} is {payment.status}: nothing to void")
    return True


def refund_amount(payment: Payment, requested: Money | None) -> Money:
    """Refund only a CAPTURED payment, at most the captured amount, once."""
    if payment.status is PaymentStatus.REFUNDED:
        raise RefundFailed(f"Payment {payment.paymentId} is already refunded")
    if payment.status is not PaymentStatus.CAPTURED or payment.capturedAmount is None:
        raise PaymentNotCaptured(f"Payment {payment.paymentId} is {payment.status}: only a captured payment refunds")
    amount = requested or payment.capturedAmount
    _same_currency(amount, payment.capturedAmount, RefundFailed)
    if not 0 < amount.amount <= payment.capturedAmount.amount:
        raise RefundFailed(
            f"Refund of {amount.amount} is not within the captured {payment.capturedAmount.amount} "
            f"{payment.capturedAmount.currency}"
        )
    return amount


def void_result(payment: Payment) -> PaymentResult:
    return PaymentResult(paymentId=payment.paymentId, status=PaymentStatus.VOIDED)


# --- task entry logic: validate the input, call the provider --------------------------------------


def parse[M](model: type[M], payload: Any) -> M:
    return parse_task_input(model, payload, InvalidPaymentRequest, "payment request")


def authorize(provider: PaymentProvider, payload: Any) -> PaymentResult:
    request = parse(AuthorizeRequest, payload)
    if request.amount.amount <= 0:
        raise InvalidPaymentRequest("amount.amount must be positive")
    return provider.authorize(request, idempotency_key(request.bookingId, Operation.AUTHORIZE))


def capture(provider: PaymentProvider, payload: Any) -> PaymentResult:
    reference = parse(PaymentReference, payload)
    return provider.capture(reference, idempotency_key(reference.bookingId, Operation.CAPTURE))


def void(provider: PaymentProvider, payload: Any) -> PaymentResult:
    # Without a paymentId the booking's authorization is meant: the workflow voids
    # one whose outcome it never learnt (every answer lost), so none is left dangling.
    if isinstance(payload, dict) and "paymentId" not in payload and isinstance(payload.get("bookingId"), str):
        key = idempotency_key(payload["bookingId"], Operation.AUTHORIZE)
        payload = {**payload, "paymentId": payment_id_for(key)}
    reference = parse(PaymentReference, payload)
    return provider.void(reference, idempotency_key(reference.bookingId, Operation.VOID))


def refund(provider: PaymentProvider, payload: Any) -> PaymentResult:
    reference = parse(PaymentReference, payload)
    return provider.refund(reference, idempotency_key(reference.bookingId, Operation.REFUND))
