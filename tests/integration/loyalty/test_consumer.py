"""The real consumer handler with real SQS event shapes, against moto tables built from the platform template."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from handlers.shared.events import BookingEvent
from tests.integration.loyalty.booking_events import CANCELLED, CONFIRMED, booking_event, lambda_attributes, record_of
from tests.integration.loyalty.conftest import ledger_entry, loyalty_entry, table_name, total_of
from tests.support.events import FakeLambdaContext, sqs_event, sqs_record


def deliver(*records: dict[str, Any]) -> list[str]:
    """Invoke the consumer with one SQS batch; the ids it reports as failed."""
    consumer = loyalty_entry("consumer")

    response = consumer.handler(sqs_event(*records), FakeLambdaContext())
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


VALID_BODY = json.loads(booking_event(CONFIRMED).to_message())
POISON = {  # kind: (body, eventType attribute, what the log line must say)
    "not JSON": ("{not json", "BookingConfirmed", "body: Invalid JSON"),
    "not an object": ("[1, 2]", "BookingConfirmed", "body: Input should be an object"),
    "schema-invalid (no amount)": (
        json.dumps({k: v for k, v in VALID_BODY.items() if k != "amount"}),
        None,
        "amount: Field required",
    ),
    "float amount": (
        json.dumps({**VALID_BODY, "amount": {"amount": 120.5, "currency": "EUR"}}),
        None,
        "amount.amount: Input should be a valid integer",
    ),
    "unknown eventType": (json.dumps({**VALID_BODY, "eventType": "BookingRefunded"}), "BookingRefunded", "eventType:"),
    "unknown schema version": (json.dumps({**VALID_BODY, "schemaVersion": 2}), None, "schemaVersion:"),
    "attribute contradicts body": (json.dumps(VALID_BODY), "BookingCancelled", "contradicts"),
    "empty body": ("", None, "body: Invalid JSON"),
}


@pytest.mark.parametrize("kind", list(POISON))
def test_a_poison_record_fails_alone_and_is_logged_by_message_id(
    loyalty: Any, consumer_logs: Callable[[], list[dict[str, Any]]], kind: str
) -> None:
    body, attribute, why = POISON[kind]
    attributes = lambda_attributes({"eventType": {"DataType": "String", "StringValue": attribute}}) if attribute else {}
    poison = sqs_record(body, message_id="poison-1", attributes=attributes)
    good = [record_of(booking_event(CONFIRMED, booking=f"b-{n}", amount=10_000)) for n in range(2)]

    failed = deliver(good[0], poison, good[1])

    assert failed == ["poison-1"]
    assert total_of(loyalty, "customer-1") == 200
    rejected = [line for line in consumer_logs() if "poison-1" in line["message"]]
    assert len(rejected) == 1
    assert rejected[0]["level"] == "ERROR"
    assert rejected[0]["message"].startswith("Rejected loyalty message poison-1: ")
    assert rejected[0]["messageId"] == "poison-1"
    assert why in rejected[0]["message"]


def test_a_batch_of_only_poison_reports_every_record_instead_of_failing_the_invocation(loyalty: Any) -> None:
    failed = deliver(sqs_record("nope", message_id="p-1"), sqs_record("{}", message_id="p-2"))

    assert failed == ["p-1", "p-2"]


def test_the_same_event_delivered_three_times_counts_once(loyalty: Any) -> None:
    event = booking_event(CONFIRMED, amount=12050)

    # twice in one batch (SQS at-least-once), once more later (a redelivery)
    assert deliver(record_of(event), record_of(event)) == []
    assert deliver(record_of(event)) == []

    assert total_of(loyalty, "customer-1") == 120
    assert ledger_entry(loyalty, "booking-1") is not None


def test_a_second_confirmation_of_the_same_booking_with_another_event_id_counts_once(loyalty: Any) -> None:
    assert deliver(record_of(booking_event(CONFIRMED)), record_of(booking_event(CONFIRMED, amount=99_000))) == []

    assert total_of(loyalty, "customer-1") == 120


def test_confirm_then_cancel_nets_zero_and_a_repeated_cancel_changes_nothing(loyalty: Any) -> None:
    deliver(record_of(booking_event(CONFIRMED, booking="keep", amount=50_000)))
    deliver(record_of(booking_event(CONFIRMED, booking="drop", amount=12050)))
    assert total_of(loyalty, "customer-1") == 620

    cancel = booking_event(CANCELLED, booking="drop", amount=12050)
    assert deliver(record_of(cancel)) == []
    assert deliver(record_of(cancel), record_of(booking_event(CANCELLED, booking="drop"))) == []

    assert total_of(loyalty, "customer-1") == 500
    entry = ledger_entry(loyalty, "drop")
    assert entry is not None
    assert (entry["status"], entry["points"]) == ("REVOKED", "120")


def test_cancel_before_confirm_never_goes_negative_and_the_late_confirm_earns_nothing(loyalty: Any) -> None:
    assert deliver(record_of(booking_event(CANCELLED))) == []
    assert total_of(loyalty, "customer-1") in (None, 0)
    entry = ledger_entry(loyalty, "booking-1")
    assert entry is not None
    assert entry["status"] == "CANCELLED_UNCONFIRMED"

    assert deliver(record_of(booking_event(CONFIRMED)), record_of(booking_event(CANCELLED))) == []

    assert total_of(loyalty, "customer-1") in (None, 0)
    assert ledger_entry(loyalty, "booking-1") == entry


def test_customers_are_credited_separately(loyalty: Any) -> None:
    deliver(
        record_of(booking_event(CONFIRMED, booking="a-1", customer="alice", amount=30_000)),
        record_of(booking_event(CONFIRMED, booking="a-2", customer="alice", amount=45_099)),
        record_of(booking_event(CONFIRMED, booking="b-1", customer="bob", amount=999)),
    )

    assert (total_of(loyalty, "alice"), total_of(loyalty, "bob")) == (750, 9)


def test_a_failed_write_leaves_neither_ledger_entry_nor_points_and_the_record_is_retried(
    loyalty: Any, consumer_logs: Callable[[], list[dict[str, Any]]]
) -> None:
    # Given the totals table is unavailable, the transaction cannot commit half of itself
    loyalty.delete_table(TableName=table_name("LoyaltyTotalsTable"))
    event = booking_event(CONFIRMED)

    assert deliver(record_of(event, message_id="m-1")) == ["m-1"]

    assert ledger_entry(loyalty, "booking-1") is None
    assert any(line["message"] == "Loyalty message m-1 failed and will be retried" for line in consumer_logs())


def test_a_revocation_that_would_go_negative_is_refused_and_changes_nothing(loyalty: Any) -> None:
    deliver(record_of(booking_event(CONFIRMED, amount=12050)))
    # Given a total that disagrees with the ledger (never produced by the consumer itself)
    loyalty.put_item(
        TableName=table_name("LoyaltyTotalsTable"),
        Item={"customerId": {"S": "customer-1"}, "points": {"N": "100"}},
    )

    assert deliver(record_of(booking_event(CANCELLED), message_id="c-1")) == ["c-1"]

    assert total_of(loyalty, "customer-1") == 100
    entry = ledger_entry(loyalty, "booking-1")
    assert entry is not None
    assert entry["status"] == "CREDITED"


def test_events_built_by_the_shared_contract_round_trip(loyalty: Any) -> None:
    event = booking_event(CONFIRMED)
    assert BookingEvent.from_message(event.to_message()) == event
    assert event.message_attributes()["eventType"]["StringValue"] == CONFIRMED
