"""Booking events through the real path on moto: platform topic -> filter policy -> queue -> consumer -> DLQ.

Topic, subscription, queues and policies come from the packaged platform template
(tests/integration/loyalty/messaging.py); events are built and published exactly
as the booking service does, with BookingEvent.to_message() and message_attributes().
"""

from __future__ import annotations

import importlib.util
import json
import sys
from types import ModuleType
from typing import Any

import pytest

from handlers.shared.events import EVENT_TYPES
from localcloud.packaging import ROOT
from tests.integration.loyalty import messaging as path
from tests.integration.loyalty.booking_events import CANCELLED, CONFIRMED, booking_event
from tests.integration.loyalty.conftest import ledger_entry, loyalty_entry, table_name, total_of


@pytest.fixture
def flow(loyalty: Any) -> path.Messaging:
    return path.build()


def consumer_handler() -> Any:
    consumer = loyalty_entry("consumer")

    return consumer.handler


def publish_event(flow: path.Messaging, kind: str, **fields: Any) -> str:
    event = booking_event(kind, **fields)
    return path.publish(flow, event.to_message(), event.message_attributes())


def waiting_in_dlq(flow: path.Messaging) -> int:
    answer = flow.sqs.get_queue_attributes(QueueUrl=flow.dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(answer["Attributes"]["ApproximateNumberOfMessages"])


def load_redrive_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("redrive_loyalty_dlq", ROOT / "scripts" / "redrive_loyalty_dlq.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_subscription_is_raw_and_filters_on_exactly_the_contract_event_types(flow: path.Messaging) -> None:
    assert flow.subscription_attributes["RawMessageDelivery"] == "true"
    assert flow.subscription_attributes["FilterPolicyScope"] == "MessageAttributes"
    policy = json.loads(flow.subscription_attributes["FilterPolicy"])
    assert set(policy) == {"eventType"}
    assert sorted(policy["eventType"]) == sorted(EVENT_TYPES)


def test_published_events_are_counted_once_per_booking(loyalty: Any, flow: path.Messaging) -> None:
    publish_event(flow, CONFIRMED, booking="b-1", customer="alice", amount=12050)
    publish_event(flow, CONFIRMED, booking="b-1", customer="alice", amount=12050)  # the producer retried
    publish_event(flow, CONFIRMED, booking="b-2", customer="alice", amount=500_000)
    publish_event(flow, CONFIRMED, booking="b-3", customer="bob", amount=7_500)
    publish_event(flow, CANCELLED, booking="b-2", customer="alice", amount=500_000)
    publish_event(flow, CANCELLED, booking="b-4", customer="bob", amount=1_000)  # before its confirmation
    publish_event(flow, CONFIRMED, booking="b-4", customer="bob", amount=1_000)

    drained = path.drain(flow, consumer_handler())

    assert len(drained.processed) == 7
    assert set(drained.receives.values()) == {1}
    assert (total_of(loyalty, "alice"), total_of(loyalty, "bob")) == (120, 75)
    assert path.dead_letters(flow) == []


def test_events_outside_the_filter_never_reach_the_queue(loyalty: Any, flow: path.Messaging) -> None:
    path.publish(flow, booking_event(CONFIRMED).to_message())  # no eventType attribute
    path.publish(flow, json.dumps({"seat": 1}), {"eventType": {"DataType": "String", "StringValue": "SeatReleased"}})
    publish_event(flow, CONFIRMED, amount=10_000)

    drained = path.drain(flow, consumer_handler())

    assert len(drained.processed) == 1
    assert total_of(loyalty, "customer-1") == 100


def test_a_message_that_always_fails_ends_in_the_dlq_after_max_receive_count(
    loyalty: Any, flow: path.Messaging
) -> None:
    poison_id = path.publish(
        flow, "{this is not an event", {"eventType": {"DataType": "String", "StringValue": CONFIRMED}}
    )
    publish_event(flow, CONFIRMED, amount=20_000)

    drained = path.drain(flow, consumer_handler())

    assert len(drained.processed) == 1  # the good event was not held up
    assert total_of(loyalty, "customer-1") == 200
    receives = [count for message_id, count in drained.receives.items() if message_id not in drained.processed]
    assert receives == [flow.max_receive_count]
    (dead,) = path.dead_letters(flow)
    assert dead["Body"] == "{this is not an event"
    assert dead["MessageAttributes"]["eventType"]["StringValue"] == CONFIRMED
    assert poison_id  # SNS accepted it: the filter looks at attributes, not bodies


def test_after_an_outage_the_dlq_is_redriven_and_each_booking_still_counts_once(
    loyalty: Any, flow: path.Messaging, monkeypatch: pytest.MonkeyPatch
) -> None:

    publish_event(flow, CONFIRMED, booking="b-1", amount=12050)
    publish_event(flow, CONFIRMED, booking="b-2", amount=30_000)
    # Given the totals table is unreachable (a wrong name stands for the outage), every write fails
    monkeypatch.setenv("LOYALTY_TOTALS_TABLE_NAME", "airline-local-loyalty-totals-unreachable")
    drained = path.drain(flow, consumer_handler())
    assert drained.processed == []
    assert set(drained.receives.values()) == {flow.max_receive_count}
    assert waiting_in_dlq(flow) == 2
    assert total_of(loyalty, "customer-1") is None

    # When the outage is over and the DLQ is redriven
    monkeypatch.setenv("LOYALTY_TOTALS_TABLE_NAME", table_name("LoyaltyTotalsTable"))
    redrive = load_redrive_script()
    result = redrive.redrive(flow.sqs, flow.dlq_url, flow.queue_url)  # auto: moto has no move task -> copy
    assert result.method == "copy"
    assert result.moved == 2
    drained = path.drain(flow, consumer_handler())

    # Then both bookings count, once, and the DLQ is empty
    assert len(drained.processed) == 2
    assert total_of(loyalty, "customer-1") == 420
    assert ledger_entry(loyalty, "b-2") is not None
    assert path.dead_letters(flow) == []
