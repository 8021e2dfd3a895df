"""The provider port: what the payment tasks need from a card processor.

Every operation takes an idempotency key and a repeat with the same key returns
the first result, as real processors' idempotency keys do. The default
implementation is the sandbox (handlers/payment/sandbox.py); a real processor's
adapter would implement the same Protocol and read its secret from SSM
Parameter Store (SecureString) at first use.
"""

from __future__ import annotations

from typing import Protocol

from handlers.payment.models import AuthorizeRequest, PaymentReference, PaymentResult


class PaymentProvider(Protocol):
    def authorize(self, request: AuthorizeRequest, idempotency_key: str) -> PaymentResult: ...

    def capture(self, reference: PaymentReference, idempotency_key: str) -> PaymentResult: ...

    def void(self, reference: PaymentReference, idempotency_key: str) -> PaymentResult: ...

    def refund(self, reference: PaymentReference, idempotency_key: str) -> PaymentResult: ...
