"""Failures sorted by kind: transient faults under names the workflows retry, outcomes as they are."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from handlers.shared.dynamo import is_transaction_conflict, transient_cancellation
from handlers.shared.errors import ServiceUnavailable, WriteConflict, WriteThrottled
from handlers.shared.tasks import aws_faults_classified, is_transient_client_error

_DYNAMODB = boto3.client("dynamodb", region_name="eu-west-1")


def cancelled(*codes: str) -> Exception:
    """A TransactionCanceledException exactly as botocore raises it, with per-item reasons."""
    response: dict[str, Any] = {
        "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
        "CancellationReasons": [{"Code": code} for code in codes],
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    exception: Exception = _DYNAMODB.exceptions.TransactionCanceledException(response, "TransactWriteItems")
    return exception


def client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


def test_a_transaction_cancelled_by_a_conflict_is_a_write_conflict() -> None:
    assert isinstance(transient_cancellation(cancelled("None", "TransactionConflict")), WriteConflict)
    assert is_transaction_conflict(cancelled("TransactionConflict", "None"))


@pytest.mark.parametrize("code", ["ThrottlingError", "ProvisionedThroughputExceeded"])
def test_a_transaction_cancelled_for_throughput_is_throttled(code: str) -> None:
    assert isinstance(transient_cancellation(cancelled("None", code)), WriteThrottled)


@pytest.mark.parametrize("codes", [("ConditionalCheckFailed", "None"), ("ValidationError",), ()])
def test_a_condition_or_validation_failure_is_not_transient(codes: tuple[str, ...]) -> None:
    assert transient_cancellation(cancelled(*codes)) is None
    assert not is_transaction_conflict(cancelled(*codes))


@pytest.mark.parametrize(
    ("code", "status", "transient"),
    [
        ("ServiceUnavailable", 503, True),
        ("InternalFailure", 500, True),
        ("Throttling", 400, True),
        ("RequestTimeout", 408, True),
        ("ValidationException", 400, False),
        ("AccessDeniedException", 400, False),
    ],
)
def test_client_errors_are_sorted_by_code_and_status(code: str, status: int, transient: bool) -> None:
    assert is_transient_client_error(client_error(code, status)) is transient


def test_an_unmodelled_transient_error_reaches_the_workflow_as_service_unavailable() -> None:
    @aws_faults_classified
    def task() -> None:
        raise client_error("ServiceUnavailable", 503)

    with pytest.raises(ServiceUnavailable) as raised:
        task()
    assert type(raised.value).__name__ == "ServiceUnavailable"  # the Step Functions error name


def test_modelled_and_business_errors_keep_their_own_names() -> None:
    throttled = _DYNAMODB.exceptions.ProvisionedThroughputExceededException(
        {"Error": {"Code": "ProvisionedThroughputExceededException"}, "ResponseMetadata": {"HTTPStatusCode": 400}},
        "PutItem",
    )

    @aws_faults_classified
    def modelled() -> None:
        raise throttled

    @aws_faults_classified
    def denied() -> None:
        raise client_error("AccessDeniedException", 400)

    with pytest.raises(type(throttled)) as raised:
        modelled()
    assert type(raised.value).__name__ == "ProvisionedThroughputExceededException"
    with pytest.raises(ClientError) as raised_denied:
        denied()
    assert type(raised_denied.value) is ClientError
