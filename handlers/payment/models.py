"""Payment models: task inputs and outputs, the stored payment, the sandbox's test tokens."""

from __future__ import annotations

import enum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from handlers.shared.ids import BookingId
from handlers.shared.money import Money

Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]
PaymentId = Annotated[str, Field(pattern=r"^pay_[0-9a-f]{32}$")]
Token = Annotated[str, Field(min_length=1, max_length=256)]


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


class AuthorizeRequest(BaseModel):
    """authorizePayment input. The amount comes from the catalog through the workflow, never the client."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    bookingId: BookingId
    customerId: Identifier
    paymentToken: Token
    amount: Money

    def fingerprint_fields(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class PaymentReference(BaseModel):
    """capturePayment / voidPayment / refundPayment input; `amount` (optional) captures or refunds part."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    bookingId: BookingId
    paymentId: PaymentId
    amount: Money | None = None

    def fingerprint_fields(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Payment(BaseModel):
    """A payment as the sandbox stores it (the token itself is never stored, only its behaviour)."""

    model_config = ConfigDict(frozen=True)

    paymentId: str
    bookingId: str
    customerId: str
    status: PaymentStatus
    amount: Money  # authorized
    tokenKind: str
    declineReason: str | None = None
    capturedAmount: Money | None = None
    refundedAmount: Money | None = None


class PaymentResult(BaseModel):
    """What every task answers: {"paymentId", "status", "amount"} (void has no amount)."""

    paymentId: str
    status: PaymentStatus
    amount: Money | None = None

    def to_output(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class TokenBehaviour(BaseModel):
    """How the sandbox treats a test token (see docs/payment.md)."""

    model_config = ConfigDict(frozen=True)

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
