"""Payment models: task inputs and outputs, the stored payment, the sandbox's test tokens."""

from __future__ import annotations

import enum
from typing import Annotated, Any

from handlers.shared.ids import BookingId
from handlers.shared.money import Money
from handlers.shared.records import Rules, dump, record

Identifier = Annotated[str, Rules(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]
PaymentId = Annotated[str, Rules(pattern=r"^pay_[0-9a-f]{32}$")]
Token = Annotated[str, Rules(min_length=1, max_length=256)]


class PaymentStatus(enum.StrEnum):
    AUTHORIZED = "AUTHORIZED"
    DECLINED = "DECLINED"
    CAPTURED = "CAPTURED"
    VOIDED = "VOIDED"
    REFUNDED = "REFUNDED"


class Operation(enum.StrEnum):
    AUTHORIZE = "authorize"
    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"


@record
class AuthorizeRequest:
    """authorizePayment input (extra keys ignored). The amount comes from the catalog through the workflow."""

    bookingId: BookingId
    customerId: Identifier
    paymentToken: Token
    amount: Money

    def fingerprint_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = dump(self)
        return fields


@record
class PaymentReference:
    """capturePayment / voidPayment / refundPayment input; `amount` (optional) captures or refunds part."""

    bookingId: BookingId
    paymentId: PaymentId
    amount: Money | None = None

    def fingerprint_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = dump(self)
        return fields


@record
class Payment:
    """A payment as the sandbox stores it (the token itself is never stored, only its behaviour)."""

    paymentId: str
    bookingId: str
    customerId: str
    status: PaymentStatus
    amount: Money  # authorized
    tokenKind: str
    declineReason: str | None = None
    capturedAmount: Money | None = None
    refundedAmount: Money | None = None


@record
class PaymentResult:
    """What every task answers: {"paymentId", "status", "amount"} (void has no amount)."""

    paymentId: str
    status: PaymentStatus
    amount: Money | None = None

    def to_output(self) -> dict[str, Any]:
        output: dict[str, Any] = dump(self, exclude_none=True)
        return output


@record
class TokenBehaviour:
    """How the sandbox treats a test token (see docs/payment.md)."""

    kind: str
    decline_reason: str | None = None
    fails_first_attempt: bool = False
    capture_fails: bool = False


SANDBOX_TOKENS: dict[str, TokenBehaviour] = {
    "tok_visa": TokenBehaviour(kind="visa"),
    "tok_mastercard": TokenBehaviour(kind="mastercard"),
    "tok_chargeDeclined": TokenBehaviour(kind="chargeDeclined", decline_reason="CARD_DECLINED"),
    "tok_insufficientFunds": TokenBehaviour(kind="insufficientFunds", decline_reason="INSUFFICIENT_FUNDS"),
    "tok_expiredCard": TokenBehaviour(kind="expiredCard", decline_reason="EXPIRED_CARD"),
    "tok_processingError": TokenBehaviour(kind="processingError", fails_first_attempt=True),
    "tok_captureFails": TokenBehaviour(kind="captureFails", capture_fails=True),
}
TOKENS_BY_KIND: dict[str, TokenBehaviour] = {behaviour.kind: behaviour for behaviour in SANDBOX_TOKENS.values()}
