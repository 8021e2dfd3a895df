"""Errors of the payment tasks.

The booking workflow (Step Functions) sees a Lambda task's exception by its class
name, so these names are the contract. Only `PaymentProcessingError` is transient
(the workflow retries it); every other one is a business outcome.
"""

from __future__ import annotations

from handlers.shared.errors import Conflict, DomainError, InvalidInput, NotFound


class PaymentError(DomainError):
    """Base of the payment errors (never raised itself)."""


class InvalidPaymentRequest(InvalidInput, PaymentError):
    """Malformed task input, an unknown sandbox token, or an idempotency key reused for another request."""


class PaymentDeclined(PaymentError):
    status = 402
    code = "PAYMENT_DECLINED"

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(message or f"Payment declined: {reason}", details=[{"field": "reason", "issue": reason}])
        self.reason = reason


class PaymentProcessingError(PaymentError):
    """The processor failed transiently; the same request with the same key may succeed."""

    status = 503
    code = "PAYMENT_PROCESSING_ERROR"


class PaymentNotFound(NotFound, PaymentError):
    code = "PAYMENT_NOT_FOUND"


class PaymentCaptureFailed(Conflict, PaymentError):
    """The capture was refused (not an authorized payment, voided, above the authorized amount, processor refusal)."""

    code = "PAYMENT_CAPTURE_FAILED"


class PaymentAlreadyCaptured(Conflict, PaymentError):
    """A void of a payment whose money was already taken: refund it instead."""

    code = "PAYMENT_ALREADY_CAPTURED"


class PaymentNotCaptured(Conflict, PaymentError):
    """A refund of a payment that holds no captured money (authorized only, voided, declined)."""

    code = "PAYMENT_NOT_CAPTURED"


class PaymentNotAuthorized(Conflict, PaymentError):
    """A void of a payment that was never authorized (declined)."""

    code = "PAYMENT_NOT_AUTHORIZED"


class RefundFailed(Conflict, PaymentError):
    """The refund was refused (above the captured amount, another currency, already refunded)."""

    code = "REFUND_FAILED"


# Stored outcomes name their error; a replay raises the same class again.
ERRORS_BY_NAME: dict[str, type[PaymentError]] = {
    cls.__name__: cls
    for cls in (
        InvalidPaymentRequest,
        PaymentDeclined,
        PaymentNotFound,
        PaymentCaptureFailed,
        PaymentAlreadyCaptured,
        PaymentNotCaptured,
        PaymentNotAuthorized,
        RefundFailed,
    )
}
