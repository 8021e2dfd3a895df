"""The payment tasks' real handlers against moto tables built from the packaged platform template:
every sandbox token, the state rules, and idempotent replays."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from localcloud.deploy import create_platform_tables
from tests.support.events import FakeLambdaContext
from tests.support.wiring import wired

PAYMENTS = "airline-local-payments"
OPERATIONS = "airline-local-payment-operations"
EUR_120 = {"amount": 12050, "currency": "EUR"}


@pytest.fixture
def tasks(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("PAYMENTS_TABLE_NAME", PAYMENTS)
    monkeypatch.setenv("PAYMENT_OPERATIONS_TABLE_NAME", OPERATIONS)
    create_platform_tables(dynamodb, only={"PaymentsTable", "PaymentOperationsTable"})
    from handlers.payment import tasks as payment_tasks
    from handlers.payment.config import PaymentConfig

    return wired(payment_tasks, PaymentConfig)


def call(handler: Callable[..., dict[str, Any]], event: dict[str, Any]) -> dict[str, Any]:
    return handler(event, FakeLambdaContext())


def authorize(tasks: Any, booking: str = "b-1", card: str = "tok_visa", amount: Any = None) -> dict[str, Any]:
    event = {"bookingId": booking, "customerId": "c-1", "paymentToken": card, "amount": amount or EUR_120}
    return call(tasks.authorize_handler, event)


def ref(booking: str, payment_id: str, **extra: Any) -> dict[str, Any]:
    return {"bookingId": booking, "paymentId": payment_id, **extra}


def stored_payment(dynamodb: Any, payment_id: str) -> dict[str, Any]:
    item: dict[str, Any] = dynamodb.get_item(TableName=PAYMENTS, Key={"paymentId": {"S": payment_id}})["Item"]
    return item


# --- tokens -----------------------------------------------------------------------------------------


def test_tok_visa_authorizes_captures_and_refunds(tasks: Any, dynamodb: Any) -> None:
    authorized = authorize(tasks)
    assert authorized["status"] == "AUTHORIZED"
    assert authorized["amount"] == EUR_120
    assert authorized["paymentId"].startswith("pay_")
    payment_id = authorized["paymentId"]

    captured = call(tasks.capture_handler, ref("b-1", payment_id))
    assert captured == {"paymentId": payment_id, "status": "CAPTURED", "amount": EUR_120}

    refunded = call(tasks.refund_handler, ref("b-1", payment_id))
    assert refunded == {"paymentId": payment_id, "status": "REFUNDED", "amount": EUR_120}
    item = stored_payment(dynamodb, payment_id)
    assert item["status"]["S"] == "REFUNDED"
    assert "tok_visa" not in str(item)  # the token itself is never stored


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("tok_chargeDeclined", "CARD_DECLINED"),
        ("tok_insufficientFunds", "INSUFFICIENT_FUNDS"),
        ("tok_expiredCard", "EXPIRED_CARD"),
    ],
)
def test_declining_tokens_raise_payment_declined_naming_the_reason_every_time(
    tasks: Any, dynamodb: Any, token: str, reason: str
) -> None:
    from handlers.payment.errors import PaymentDeclined

    with pytest.raises(PaymentDeclined, match=reason) as first:
        authorize(tasks, card=token)
    with pytest.raises(PaymentDeclined, match=reason):
        authorize(tasks, card=token)  # the replay returns the first result

    assert first.value.reason == reason
    items = dynamodb.scan(TableName=PAYMENTS)["Items"]
    assert [(i["status"]["S"], i["declineReason"]["S"]) for i in items] == [("DECLINED", reason)]


def test_tok_processing_error_fails_once_per_key_then_succeeds(tasks: Any, dynamodb: Any) -> None:
    from handlers.payment.errors import PaymentProcessingError

    with pytest.raises(PaymentProcessingError):
        authorize(tasks, card="tok_processingError")
    assert dynamodb.scan(TableName=PAYMENTS)["Count"] == 0  # nothing authorized by the failed attempt

    retried = authorize(tasks, card="tok_processingError")  # what the workflow's Retry does
    assert retried["status"] == "AUTHORIZED"
    assert authorize(tasks, card="tok_processingError") == retried

    # another booking is another key: it fails once too
    with pytest.raises(PaymentProcessingError):
        authorize(tasks, booking="b-2", card="tok_processingError")


def test_tok_capture_fails_authorizes_but_never_captures_and_can_be_voided(tasks: Any, dynamodb: Any) -> None:
    from handlers.payment.errors import PaymentCaptureFailed

    payment_id = authorize(tasks, card="tok_captureFails")["paymentId"]

    with pytest.raises(PaymentCaptureFailed):
        call(tasks.capture_handler, ref("b-1", payment_id))
    with pytest.raises(PaymentCaptureFailed):
        call(tasks.capture_handler, ref("b-1", payment_id))
    assert stored_payment(dynamodb, payment_id)["status"]["S"] == "AUTHORIZED"

    # the workflow's compensation: nothing is left dangling
    assert call(tasks.void_handler, ref("b-1", payment_id)) == {"paymentId": payment_id, "status": "VOIDED"}


@pytest.mark.parametrize("token", ["tok_unknown", "4242424242424242", ""])
def test_an_unknown_token_is_an_invalid_payment_request(tasks: Any, dynamodb: Any, token: str) -> None:
    from handlers.payment.errors import InvalidPaymentRequest

    with pytest.raises(InvalidPaymentRequest):
        authorize(tasks, card=token)
    assert dynamodb.scan(TableName=PAYMENTS)["Count"] == 0


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"bookingId": "b-1", "customerId": "c-1", "paymentToken": "tok_visa"},
        {
            "bookingId": "b-1",
            "customerId": "c-1",
            "paymentToken": "tok_visa",
            "amount": {"amount": 12.5, "currency": "EUR"},
        },
        {
            "bookingId": "b-1",
            "customerId": "c-1",
            "paymentToken": "tok_visa",
            "amount": {"amount": "100", "currency": "EUR"},
        },
        {
            "bookingId": "b-1",
            "customerId": "c-1",
            "paymentToken": "tok_visa",
            "amount": {"amount": 0, "currency": "EUR"},
        },
        {
            "bookingId": "b-1",
            "customerId": "c-1",
            "paymentToken": "tok_visa",
            "amount": {"amount": 100, "currency": "eur"},
        },
        {"bookingId": "b 1", "customerId": "c-1", "paymentToken": "tok_visa", "amount": EUR_120},
    ],
)
def test_malformed_authorize_input_is_an_invalid_payment_request(tasks: Any, event: dict[str, Any]) -> None:
    from handlers.payment.errors import InvalidPaymentRequest

    with pytest.raises(InvalidPaymentRequest):
        call(tasks.authorize_handler, event)


@pytest.mark.parametrize("task", ["capture_handler", "void_handler", "refund_handler"])
@pytest.mark.parametrize("event", [{}, {"bookingId": "b-1", "paymentId": "not-a-payment-id"}])
def test_malformed_references_are_invalid_payment_requests(tasks: Any, task: str, event: dict[str, Any]) -> None:
    from handlers.payment.errors import InvalidPaymentRequest

    with pytest.raises(InvalidPaymentRequest):
        call(getattr(tasks, task), event)


@pytest.mark.parametrize("task", ["capture_handler", "refund_handler"])
def test_capture_and_refund_need_the_payment_id(tasks: Any, task: str) -> None:
    from handlers.payment.errors import InvalidPaymentRequest

    with pytest.raises(InvalidPaymentRequest):
        call(getattr(tasks, task), {"bookingId": "b-1"})


def test_a_void_by_booking_id_alone_voids_that_bookings_authorization(tasks: Any) -> None:
    authorized = authorize(tasks, booking="b-9")

    voided = call(tasks.void_handler, {"bookingId": "b-9"})

    assert voided == {"paymentId": authorized["paymentId"], "status": "VOIDED"}


def test_an_authorization_that_arrives_after_the_void_of_its_booking_is_refused_and_holds_nothing(
    tasks: Any, dynamodb: Any
) -> None:
    from handlers.payment.errors import PaymentNotAuthorized, PaymentNotFound
    from handlers.payment.logic import payment_id_for

    # Given the workflow voided a booking whose authorization never answered (its task timed out)
    with pytest.raises(PaymentNotFound):
        call(tasks.void_handler, {"bookingId": "b-9"})
    # When that authorization arrives late, then it is refused, every time, and no payment is held
    for _ in range(2):
        with pytest.raises(PaymentNotAuthorized, match="voided before it was made"):
            authorize(tasks, booking="b-9")
    assert "Item" not in dynamodb.get_item(
        TableName=PAYMENTS, Key={"paymentId": {"S": payment_id_for("b-9:authorize")}}
    )


def test_an_authorization_in_flight_when_its_booking_is_voided_can_no_longer_write_its_payment(
    tasks: Any, dynamodb: Any
) -> None:
    from handlers.payment import logic
    from handlers.payment.errors import PaymentNotAuthorized, PaymentNotFound
    from handlers.payment.models import AuthorizeRequest, Operation, Payment, PaymentStatus
    from handlers.shared.records import parse

    store = tasks.adapters.provider._store
    key = logic.idempotency_key("b-8", Operation.AUTHORIZE)
    request = parse(
        AuthorizeRequest, {"bookingId": "b-8", "customerId": "c-1", "paymentToken": "tok_visa", "amount": EUR_120}
    )
    fingerprint = logic.fingerprint(request.fingerprint_fields())
    # Given an authorization that has begun (its record pending) but not yet written its payment
    store.begin(key, Operation.AUTHORIZE, fingerprint)
    # When the workflow voids the booking meanwhile
    with pytest.raises(PaymentNotFound):
        call(tasks.void_handler, {"bookingId": "b-8"})
    # Then the authorization's own write is refused with the void's answer, and nothing is held
    payment = Payment(
        paymentId=logic.payment_id_for(key),
        bookingId="b-8",
        customerId="c-1",
        status=PaymentStatus.AUTHORIZED,
        amount=request.amount,
        tokenKind="visa",
    )
    answer = store.create(payment, key, logic_outcome(request, payment, fingerprint))
    assert answer is not None
    with pytest.raises(PaymentNotAuthorized):
        answer.replay()
    assert "Item" not in dynamodb.get_item(TableName=PAYMENTS, Key={"paymentId": {"S": payment.paymentId}})


# --- state rules ------------------------------------------------------------------------------------


def test_capture_above_the_authorized_amount_is_refused_and_a_partial_capture_is_not(tasks: Any, dynamodb: Any) -> None:
    from handlers.payment.errors import PaymentCaptureFailed

    payment_id = authorize(tasks)["paymentId"]

    with pytest.raises(PaymentCaptureFailed, match="exceeds"):
        call(tasks.capture_handler, ref("b-1", payment_id, amount={"amount": 12051, "currency": "EUR"}))
    with pytest.raises(PaymentCaptureFailed):
        call(tasks.capture_handler, ref("b-1", payment_id, amount={"amount": 100, "currency": "USD"}))
    assert stored_payment(dynamodb, payment_id)["status"]["S"] == "AUTHORIZED"

    captured = call(tasks.capture_handler, ref("b-1", payment_id, amount={"amount": 10000, "currency": "EUR"}))
    assert captured["amount"] == {"amount": 10000, "currency": "EUR"}

    from handlers.payment.errors import RefundFailed

    with pytest.raises(RefundFailed):
        call(tasks.refund_handler, ref("b-1", payment_id, amount={"amount": 10001, "currency": "EUR"}))
    assert call(tasks.refund_handler, ref("b-1", payment_id))["amount"] == {"amount": 10000, "currency": "EUR"}


def test_void_after_capture_is_payment_already_captured(tasks: Any, dynamodb: Any) -> None:
    from handlers.payment.errors import PaymentAlreadyCaptured

    payment_id = authorize(tasks)["paymentId"]
    call(tasks.capture_handler, ref("b-1", payment_id))

    with pytest.raises(PaymentAlreadyCaptured):
        call(tasks.void_handler, ref("b-1", payment_id))
    assert stored_payment(dynamodb, payment_id)["status"]["S"] == "CAPTURED"


def test_refund_before_capture_is_refused_and_changes_nothing(tasks: Any, dynamodb: Any) -> None:
    from handlers.payment.errors import PaymentNotCaptured

    payment_id = authorize(tasks)["paymentId"]

    with pytest.raises(PaymentNotCaptured):
        call(tasks.refund_handler, ref("b-1", payment_id))
    assert stored_payment(dynamodb, payment_id)["status"]["S"] == "AUTHORIZED"

    # the refusal did not bind the key: after the capture, the refund goes through
    call(tasks.capture_handler, ref("b-1", payment_id))
    assert call(tasks.refund_handler, ref("b-1", payment_id))["status"] == "REFUNDED"


def test_a_voided_payment_can_be_neither_captured_nor_refunded_and_voids_again_to_the_same_answer(
    tasks: Any, dynamodb: Any
) -> None:
    from handlers.payment.errors import PaymentCaptureFailed, PaymentNotCaptured

    payment_id = authorize(tasks)["paymentId"]
    voided = call(tasks.void_handler, ref("b-1", payment_id))

    assert call(tasks.void_handler, ref("b-1", payment_id)) == voided == {"paymentId": payment_id, "status": "VOIDED"}
    with pytest.raises(PaymentCaptureFailed):
        call(tasks.capture_handler, ref("b-1", payment_id))
    with pytest.raises(PaymentNotCaptured):
        call(tasks.refund_handler, ref("b-1", payment_id))
    assert stored_payment(dynamodb, payment_id)["status"]["S"] == "VOIDED"


def test_a_declined_payment_cannot_be_captured_or_voided(tasks: Any) -> None:
    from handlers.payment.errors import PaymentCaptureFailed, PaymentDeclined, PaymentNotAuthorized
    from handlers.payment.logic import payment_id_for

    with pytest.raises(PaymentDeclined):
        authorize(tasks, card="tok_chargeDeclined")
    payment_id = payment_id_for("b-1:authorize")

    with pytest.raises(PaymentCaptureFailed):
        call(tasks.capture_handler, ref("b-1", payment_id))
    with pytest.raises(PaymentNotAuthorized):
        call(tasks.void_handler, ref("b-1", payment_id))


def test_a_payment_of_another_booking_or_unknown_is_not_found(tasks: Any) -> None:
    from handlers.payment.errors import PaymentNotFound
    from handlers.payment.logic import payment_id_for

    payment_id = authorize(tasks)["paymentId"]

    for task in (tasks.capture_handler, tasks.void_handler, tasks.refund_handler):
        with pytest.raises(PaymentNotFound):
            call(task, ref("b-2", payment_id))
        with pytest.raises(PaymentNotFound):
            call(task, ref("b-1", payment_id_for("nobody:authorize")))


# --- idempotency ------------------------------------------------------------------------------------


def test_a_repeated_authorization_returns_the_first_result_and_authorizes_once(tasks: Any, dynamodb: Any) -> None:
    first = authorize(tasks)
    again = authorize(tasks)

    assert again == first
    assert dynamodb.scan(TableName=PAYMENTS)["Count"] == 1
    record = dynamodb.get_item(TableName=OPERATIONS, Key={"idempotencyKey": {"S": "b-1:authorize"}})["Item"]
    assert record["state"]["S"] == "COMPLETED"
    assert int(record["attempts"]["N"]) == 2
    assert int(record["expiresAt"]["N"]) > 0


def test_the_same_key_with_another_request_is_refused(tasks: Any, dynamodb: Any) -> None:
    from handlers.payment.errors import InvalidPaymentRequest

    authorize(tasks)

    with pytest.raises(InvalidPaymentRequest, match="different request"):
        authorize(tasks, amount={"amount": 1, "currency": "EUR"})
    with pytest.raises(InvalidPaymentRequest, match="different request"):
        authorize(tasks, card="tok_mastercard")
    assert dynamodb.scan(TableName=PAYMENTS)["Count"] == 1


def test_replayed_capture_void_and_refund_return_their_first_results(tasks: Any) -> None:
    payment_id = authorize(tasks)["paymentId"]
    captured = call(tasks.capture_handler, ref("b-1", payment_id))
    refunded = call(tasks.refund_handler, ref("b-1", payment_id))

    # a late replay of the capture (e.g. a retried task) answers what it answered first
    assert call(tasks.capture_handler, ref("b-1", payment_id)) == captured
    assert call(tasks.refund_handler, ref("b-1", payment_id)) == refunded

    other = authorize(tasks, booking="b-2")["paymentId"]
    voided = call(tasks.void_handler, ref("b-2", other))
    assert call(tasks.void_handler, ref("b-2", other)) == voided


def test_a_replay_after_a_crash_between_begin_and_write_completes_the_operation(tasks: Any, dynamodb: Any) -> None:
    from handlers.payment import logic
    from handlers.payment.models import Operation

    payment_id = authorize(tasks)["paymentId"]
    # Given a capture attempt that counted itself and then died before its write
    tasks.adapters.provider._store.begin("b-1:capture", Operation.CAPTURE, logic.fingerprint({"x": 1}))

    captured = call(tasks.capture_handler, ref("b-1", payment_id))

    assert captured["status"] == "CAPTURED"
    assert stored_payment(dynamodb, payment_id)["capturedAmount"]["M"]["amount"]["N"] == "12050"


def logic_outcome(request: Any, payment: Any, fingerprint: str) -> Any:
    from handlers.payment.dal import Outcome
    from handlers.payment.models import PaymentResult, PaymentStatus

    return Outcome.of(
        PaymentResult(paymentId=payment.paymentId, status=PaymentStatus.AUTHORIZED, amount=request.amount), fingerprint
    )
