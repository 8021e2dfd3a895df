"""The sandbox provider: a card processor's test mode, persisted in DynamoDB.

Test tokens (see models.SANDBOX_TOKENS and docs/payment.md) choose the outcome.
Idempotency: each operation's key gets a record (attempt count, request
fingerprint, first final result) in the operations table; the result is written
in the same transaction as the payment's change, so a repeat of the key returns
it and never acts twice. Refusals that change nothing (a capture of a voided
payment, a refund before capture, a wrong amount) are not stored: they are
recomputed from the payment's state, which only moves forward.
"""

from __future__ import annotations

from collections.abc import Callable

from handlers.payment import logic
from handlers.payment.dal import DynamoPaymentStore, Outcome
from handlers.payment.errors import (
    InvalidPaymentRequest,
    PaymentCaptureFailed,
    PaymentDeclined,
    PaymentError,
    PaymentNotAuthorized,
    PaymentNotFound,
    PaymentProcessingError,
)
from handlers.payment.models import (
    TOKENS_BY_KIND,
    AuthorizeRequest,
    Operation,
    Payment,
    PaymentReference,
    PaymentResult,
    PaymentStatus,
)


class SandboxProvider:
    def __init__(self, store: DynamoPaymentStore) -> None:
        self._store = store

    def _begin(self, key: str, operation: Operation, fingerprint: str) -> Outcome | int:
        """The stored outcome of a repeat, or this attempt's number.

        A key is bound to the request that completed it; before that (only refusals
        that changed nothing), a corrected request may still use it.
        """
        record = self._store.begin(key, operation, fingerprint)
        if record.outcome is None:
            return record.attempts
        if record.fingerprint != fingerprint:
            raise InvalidPaymentRequest(f"Idempotency key {key} was used for a different request")
        return record.outcome

    def authorize(self, request: AuthorizeRequest, idempotency_key: str) -> PaymentResult:
        behaviour = logic.token_behaviour(request.paymentToken)
        fingerprint = logic.fingerprint(request.fingerprint_fields())
        started = self._begin(idempotency_key, Operation.AUTHORIZE, fingerprint)
        if isinstance(started, Outcome):
            return started.replay()
        if behaviour.fails_first_attempt and started == 1:
            raise PaymentProcessingError("The processor failed transiently; retry with the same idempotency key")
        payment = Payment(
            paymentId=logic.payment_id_for(idempotency_key),
            bookingId=request.bookingId,
            customerId=request.customerId,
            status=PaymentStatus.DECLINED if behaviour.decline_reason else PaymentStatus.AUTHORIZED,
            amount=request.amount,
            tokenKind=behaviour.kind,
            declineReason=behaviour.decline_reason,
        )
        outcome = self._authorization_outcome(payment, fingerprint)
        stored = self._store.create(payment, idempotency_key, outcome)
        if stored is None:  # the payment exists but its record expired: answer from the payment itself
            existing = self._store.payment(payment.paymentId)
            if existing is None:  # pragma: no cover - the write said it exists
                raise PaymentProcessingError("The payment could not be read back; retry")
            stored = self._store.finish(idempotency_key, self._authorization_outcome(existing, fingerprint))
        return stored.replay()

    @staticmethod
    def _authorization_outcome(payment: Payment, fingerprint: str) -> Outcome:
        if payment.status is PaymentStatus.DECLINED:
            return Outcome.failure(PaymentDeclined(payment.declineReason or "DECLINED"), fingerprint)
        return Outcome.of(
            PaymentResult(paymentId=payment.paymentId, status=PaymentStatus.AUTHORIZED, amount=payment.amount),
            fingerprint,
        )

    def _rule[T](self, key: str, fingerprint: str, check: Callable[[], T]) -> T | PaymentResult:
        """Apply a state rule; a refusal is final unless a twin request with this key completed
        meanwhile (it began while the operation was pending and read the payment after it)."""
        try:
            return check()
        except PaymentError:
            twin = self._store.completed(key)
            if twin is not None and twin.fingerprint == fingerprint:
                return twin.replay()
            raise

    def _owned(self, reference: PaymentReference) -> Payment:
        return self._owner_checked(reference, self._store.payment(reference.paymentId))

    @staticmethod
    def _owner_checked(reference: PaymentReference, payment: Payment | None) -> Payment:
        if payment is None or payment.bookingId != reference.bookingId:
            raise PaymentNotFound(f"Payment {reference.paymentId} does not exist for booking {reference.bookingId}")
        return payment

    def capture(self, reference: PaymentReference, idempotency_key: str) -> PaymentResult:
        fingerprint = logic.fingerprint(reference.fingerprint_fields())
        started = self._begin(idempotency_key, Operation.CAPTURE, fingerprint)
        if isinstance(started, Outcome):
            return started.replay()
        payment = self._owned(reference)
        amount = self._rule(idempotency_key, fingerprint, lambda: logic.capture_amount(payment, reference.amount))
        if isinstance(amount, PaymentResult):
            return amount
        behaviour = TOKENS_BY_KIND.get(payment.tokenKind)
        if behaviour is not None and behaviour.capture_fails:
            refusal = PaymentCaptureFailed("The processor refused the capture (sandbox token tok_captureFails)")
            return self._store.finish(idempotency_key, Outcome.failure(refusal, fingerprint)).replay()
        outcome = Outcome.of(
            PaymentResult(paymentId=payment.paymentId, status=PaymentStatus.CAPTURED, amount=amount), fingerprint
        )
        stored = self._store.transition(
            payment.paymentId,
            PaymentStatus.AUTHORIZED,
            PaymentStatus.CAPTURED,
            key=idempotency_key,
            outcome=outcome,
            money_field="capturedAmount",
            money=amount,
        )
        if stored is None:  # voided (or captured by another key) in between: the rules say why
            logic.capture_amount(self._owned(reference), reference.amount)
            raise PaymentProcessingError("The payment changed during the capture; retry")
        return stored.replay()

    def void(self, reference: PaymentReference, idempotency_key: str) -> PaymentResult:
        fingerprint = logic.fingerprint(reference.fingerprint_fields())
        started = self._begin(idempotency_key, Operation.VOID, fingerprint)
        if isinstance(started, Outcome):
            return started.replay()
        found = self._store.payment(reference.paymentId)
        if found is None and not self._closes_unmade_authorization(reference):
            found = self._store.payment(reference.paymentId)  # that authorization completed first
        payment = self._owner_checked(reference, found)
        outcome = Outcome.of(logic.void_result(payment), fingerprint)
        proceed = self._rule(idempotency_key, fingerprint, lambda: logic.may_void(payment))
        if isinstance(proceed, PaymentResult):
            return proceed
        if not proceed:  # already voided: the same answer
            return self._store.finish(idempotency_key, outcome).replay()
        stored = self._store.transition(
            payment.paymentId, PaymentStatus.AUTHORIZED, PaymentStatus.VOIDED, key=idempotency_key, outcome=outcome
        )
        if stored is None:
            if not logic.may_void(self._owned(reference)):  # voided meanwhile: same answer
                return self._store.finish(idempotency_key, outcome).replay()
            raise PaymentProcessingError("The payment changed during the void; retry")
        return stored.replay()

    def _closes_unmade_authorization(self, reference: PaymentReference) -> bool:
        """For a void that found no payment: close the booking's own authorization, if that is what it names.

        The workflow voids by booking when an authorization's answer never came (its task timed
        out): the authorization may still be on its way. Completing its operation record as
        refused means it can never write its payment (that write needs the record pending), so
        no hold is left behind. False when it completed first: its payment may be there to void.
        """
        authorize_key = logic.idempotency_key(reference.bookingId, Operation.AUTHORIZE)
        if reference.paymentId != logic.payment_id_for(authorize_key):
            return True  # not an authorization of this booking: nothing can appear under that id
        refusal = PaymentNotAuthorized(
            f"The authorization of booking {reference.bookingId} was voided before it was made"
        )
        return self._store.close(authorize_key, Operation.AUTHORIZE, Outcome.failure(refusal, "")) is None

    def refund(self, reference: PaymentReference, idempotency_key: str) -> PaymentResult:
        fingerprint = logic.fingerprint(reference.fingerprint_fields())
        started = self._begin(idempotency_key, Operation.REFUND, fingerprint)
        if isinstance(started, Outcome):
            return started.replay()
        payment = self._owned(reference)
        amount = self._rule(idempotency_key, fingerprint, lambda: logic.refund_amount(payment, reference.amount))
        if isinstance(amount, PaymentResult):
            return amount
        outcome = Outcome.of(
            PaymentResult(paymentId=payment.paymentId, status=PaymentStatus.REFUNDED, amount=amount), fingerprint
        )
        stored = self._store.transition(
            payment.paymentId,
            PaymentStatus.CAPTURED,
            PaymentStatus.REFUNDED,
            key=idempotency_key,
            outcome=outcome,
            money_field="refundedAmount",
            money=amount,
        )
        if stored is None:
            logic.refund_amount(self._owned(reference), reference.amount)
            raise PaymentProcessingError("The payment changed during the refund; retry")
        return stored.replay()
