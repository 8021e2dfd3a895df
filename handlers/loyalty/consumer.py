"""SQS entry point: booking events (raw SNS delivery) -> loyalty ledger, with partial batch failures.

Each record stands alone: a poison message (not JSON, not schema v1, an unknown
eventType) or a transient failure fails only its own record, which SQS redelivers
and, after the queue's maxReceiveCount, moves to the dead-letter queue. Every
failure is logged with the message id and the reason.
"""

from __future__ import annotations

import functools
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.loyalty import logic
from handlers.loyalty.config import LoyaltyConfig, load_config
from handlers.loyalty.dal import DynamoLoyaltyStore
from handlers.loyalty.logic import Outcome
from handlers.loyalty.models import LedgerContention, LedgerInconsistent
from handlers.loyalty.ports import Ledger
from handlers.shared.events import BookingEvent
from handlers.shared.init_gc import resume_gc_after_first_invocation
from handlers.shared.observability import logger, metrics, tracer
from handlers.shared.records import RecordError, record

# The whole batch failing is still reported record by record: the invocation itself
# succeeds, so the Errors metric means a crash, not a bad message.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

MAX_REASON_CHARS = 500


@record
class Adapters:
    """What the consumer's logic works with: built once per process (`cold_start`), or passed in by a test."""

    ledger: Ledger


def build_adapters(config: LoyaltyConfig) -> Adapters:
    return Adapters(ledger=DynamoLoyaltyStore(config.ledger_table_name, config.totals_table_name))


@cache
def cold_start() -> Adapters:
    """The adapters of this process, from its configuration (parsed once)."""
    return build_adapters(load_config())


class PoisonMessage(Exception):
    """A message that can never be applied as it is; it fails until it reaches the DLQ."""


def _validation_reason(exc: RecordError) -> str:
    return "; ".join(f"{detail['field']}: {detail['issue']}" for detail in exc.details)[:MAX_REASON_CHARS]


def parse_event(record: SQSRecord) -> BookingEvent:
    """The record's booking event, or PoisonMessage saying why it is not one."""
    try:
        event = BookingEvent.from_message(record.body or "")
    except RecordError as exc:
        raise PoisonMessage(f"not a BookingEvent v1: {_validation_reason(exc)}") from exc
    declared = record.message_attributes["eventType"]
    attribute = declared.string_value if declared is not None else None
    if attribute is not None and attribute != event.eventType:
        raise PoisonMessage(f"eventType attribute {attribute!r} contradicts the body's {event.eventType!r}")
    return event


@tracer.capture_method
def record_handler(record: SQSRecord, adapters: Adapters) -> None:
    message_id = record.message_id
    try:
        event = parse_event(record)
    except PoisonMessage as exc:
        logger.error(f"Rejected loyalty message {message_id}: {exc}", extra={"messageId": message_id})
        metrics.add_metric(name="LoyaltyPoisonMessages", unit="Count", value=1)
        raise
    context = {"messageId": message_id, "eventId": event.eventId, "bookingId": event.bookingId}
    tracer.put_annotation(key="bookingId", value=event.bookingId)
    try:
        outcome, entry = logic.apply_event(adapters.ledger, event)
    except LedgerInconsistent as exc:
        logger.error(f"Refused loyalty message {message_id}: {exc}", extra=context)
        raise
    except LedgerContention as exc:
        logger.warning(f"Loyalty message {message_id} will be retried: {exc}", extra=context)
        raise
    except Exception:
        logger.exception(f"Loyalty message {message_id} failed and will be retried", extra=context)
        raise
    if entry is not None and entry.customerId != event.customerId:
        logger.warning(
            f"Loyalty message {message_id} names customer {event.customerId} but the ledger has {entry.customerId}",
            extra=context,
        )
    logger.info(f"Loyalty message {message_id}: {outcome}", extra={**context, "points": entry.points if entry else 0})
    tracer.put_annotation(key="outcome", value=str(outcome.value))
    if outcome is Outcome.CREDITED and entry is not None:
        metrics.add_metric(name="LoyaltyPointsCredited", unit="Count", value=entry.points)
    elif outcome is Outcome.REVOKED and entry is not None:
        metrics.add_metric(name="LoyaltyPointsRevoked", unit="Count", value=entry.points)
    elif outcome in (Outcome.DUPLICATE, Outcome.CONFIRMED_AFTER_CANCEL):
        metrics.add_metric(name="LoyaltyEventsIgnored", unit="Count", value=1)


@resume_gc_after_first_invocation
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext, adapters: Adapters | None = None) -> dict[str, Any]:
    handle = functools.partial(record_handler, adapters=adapters or cold_start())
    response = process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
    return dict(response)
