"""Payment rules as pure functions: which transitions each status allows, amounts, tokens, keys."""

from __future__ import annotations

import pytest

from handlers.payment import logic
from handlers.payment.dal import Outcome
from handlers.payment.errors import (
    InvalidPaymentRequest,
    PaymentAlreadyCaptured,
    PaymentCaptureFailed,
    PaymentDeclined,
    PaymentNotAuthorized,
    PaymentNotCaptured,
    RefundFailed,
)
from handlers.payment.models import SANDBOX_TOKENS, Operation, Payment, PaymentResult, PaymentStatus
from handlers.shared.money import Money

EUR = "EUR"


def payment(status: PaymentStatus, amount: int = 1000, captured: int | None = None) -> Payment:
    return Payment(
        paymentId="pay_" + "0" * 32,
        bookingId="b-1",
        customerId="c-1",
        status=status,
        amount=Money(amount=amount, currency=EUR),
        tokenKind="visa",
        capturedAmount=Money(amount=captured, currency=EUR) if captured is not None else None,
    )


def eur(amount: int) -> Money:
    return Money(amount=amount, currency=EUR)


# capture ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("requested", [None, 1, 999, 1000])
def test_an_authorized_payment_captures_up_to_the_authorized_amount(requested: int | None) -> None:
    amount = logic.capture_amount(payment(PaymentStatus.AUTHORIZED), eur(requested) if requested else None)
    assert amount == eur(requested or 1000)


@pytest.mark.parametrize("requested", [1001, 0])
def test_a_capture_outside_the_authorized_amount_is_refused(requested: int) -> None:
    with pytest.raises(PaymentCaptureFailed):
        logic.capture_amount(payment(PaymentStatus.AUTHORIZED), eur(requested))


def test_a_capture_in_another_currency_is_refused() -> None:
    with pytest.raises(PaymentCaptureFailed):
        logic.capture_amount(payment(PaymentStatus.AUTHORIZED), Money(amount=10, currency="USD"))


@pytest.mark.parametrize(
    "status", [PaymentStatus.VOIDED, PaymentStatus.DECLINED, PaymentStatus.CAPTURED, PaymentStatus.REFUNDED]
)
def test_only_an_authorized_payment_captures(status: PaymentStatus) -> None:
    with pytest.raises(PaymentCaptureFailed):
        logic.capture_amount(payment(status, captured=1000), None)


# void ---------------------------------------------------------------------------------------------


def test_void_of_an_authorized_payment_proceeds_and_of_a_voided_one_answers_the_same() -> None:
    assert logic.may_void(payment(PaymentStatus.AUTHORIZED)) is True
    assert logic.may_void(payment(PaymentStatus.VOIDED)) is False


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (PaymentStatus.CAPTURED, PaymentAlreadyCaptured),
        (PaymentStatus.REFUNDED, PaymentAlreadyCaptured),
        (PaymentStatus.DECLINED, PaymentNotAuthorized),
    ],
)
def test_void_of_anything_else_is_refused(status: PaymentStatus, error: type[Exception]) -> None:
    with pytest.raises(error):
        logic.may_void(payment(status, captured=1000))


# refund -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("requested", [None, 1, 800])
def test_a_captured_payment_refunds_up_to_the_captured_amount(requested: int | None) -> None:
    amount = logic.refund_amount(payment(PaymentStatus.CAPTURED, captured=800), eur(requested) if requested else None)
    assert amount == eur(requested or 800)


def test_a_refund_above_the_captured_amount_is_refused_even_within_the_authorized_amount() -> None:
    with pytest.raises(RefundFailed):
        logic.refund_amount(payment(PaymentStatus.CAPTURED, captured=800), eur(801))


@pytest.mark.parametrize("status", [PaymentStatus.AUTHORIZED, PaymentStatus.VOIDED, PaymentStatus.DECLINED])
def test_refund_before_capture_is_refused(status: PaymentStatus) -> None:
    with pytest.raises(PaymentNotCaptured):
        logic.refund_amount(payment(status), None)


def test_a_refunded_payment_does_not_refund_twice() -> None:
    with pytest.raises(RefundFailed):
        logic.refund_amount(payment(PaymentStatus.REFUNDED, captured=1000), None)


# the whole state machine ----------------------------------------------------------------------------


def test_no_operation_leads_out_of_a_terminal_status() -> None:
    for status in (PaymentStatus.VOIDED, PaymentStatus.REFUNDED, PaymentStatus.DECLINED):
        current = payment(status, captured=1000)
        with pytest.raises(PaymentCaptureFailed):
            logic.capture_amount(current, None)
        with pytest.raises((PaymentNotCaptured, RefundFailed)):
            logic.refund_amount(current, None)


# tokens, keys, stored outcomes ----------------------------------------------------------------------


def test_the_documented_tokens_behave_as_documented() -> None:
    assert SANDBOX_TOKENS["tok_visa"].decline_reason is None
    assert SANDBOX_TOKENS["tok_chargeDeclined"].decline_reason == "CARD_DECLINED"
    assert SANDBOX_TOKENS["tok_insufficientFunds"].decline_reason == "INSUFFICIENT_FUNDS"
    assert SANDBOX_TOKENS["tok_processingError"].fails_first_attempt
    assert SANDBOX_TOKENS["tok_captureFails"].capture_fails
    assert SANDBOX_TOKENS["tok_captureFails"].decline_reason is None


def test_every_token_is_documented() -> None:
    from localcloud.packaging import ROOT

    doc = (ROOT / "docs" / "payment.md").read_text()
    assert all(f"`{token}`" in doc for token in SANDBOX_TOKENS)


def test_an_unknown_token_is_an_invalid_request() -> None:
    with pytest.raises(InvalidPaymentRequest):
        logic.token_behaviour("tok_whatever")


def test_keys_and_payment_ids_are_per_booking_and_operation_and_stable() -> None:
    assert logic.idempotency_key("b-1", Operation.AUTHORIZE) == "b-1:authorize"
    assert logic.idempotency_key("b-1", Operation.REFUND) == "b-1:refund"
    assert logic.payment_id_for("b-1:authorize") == logic.payment_id_for("b-1:authorize")
    assert logic.payment_id_for("b-1:authorize") != logic.payment_id_for("b-2:authorize")


def test_a_fingerprint_ignores_key_order_but_not_values() -> None:
    assert logic.fingerprint({"a": 1, "b": 2}) == logic.fingerprint({"b": 2, "a": 1})
    assert logic.fingerprint({"a": 1}) != logic.fingerprint({"a": 2})


def test_a_stored_outcome_replays_the_result_or_raises_the_same_error() -> None:
    result = PaymentResult(paymentId="pay_1", status=PaymentStatus.AUTHORIZED, amount=eur(5))
    assert Outcome.of(result, "f").replay() == result

    with pytest.raises(PaymentDeclined) as declined:
        Outcome.failure(PaymentDeclined("INSUFFICIENT_FUNDS"), "f").replay()
    assert declined.value.reason == "INSUFFICIENT_FUNDS"
    with pytest.raises(PaymentCaptureFailed, match="refused"):
        Outcome.failure(PaymentCaptureFailed("refused"), "f").replay()


def test_void_output_has_no_amount() -> None:
    assert logic.void_result(payment(PaymentStatus.AUTHORIZED)).to_output() == {
        "paymentId": "pay_" + "0" * 32,
        "status": "VOIDED",
    }
