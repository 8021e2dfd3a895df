"""Task functions of the booking workflows (Step Functions calls them directly).

A task's exception reaches Step Functions by class name (`BookingNotPending`, ...),
which is what the state machine's Retry and Catch match on.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError

from handlers.booking import logic
from handlers.booking.config import load_config
from handlers.booking.dal import DynamoBookingRepository, SnsEventPublisher
from handlers.booking.errors import BookingNotFound, InvalidTaskInput
from handlers.booking.models import CancelTask, ConfirmTask, PublishTask
from handlers.shared.events import BOOKING_CONFIRMED
from handlers.shared.observability import logger, tracer


@cache
def repository() -> DynamoBookingRepository:
    config = load_config()
    return DynamoBookingRepository(config.bookings_table_name, config.references_table_name)


@cache
def publisher() -> SnsEventPublisher:
    return SnsEventPublisher(load_config().events_topic_arn)


def _parse[M: BaseModel](model: type[M], event: Any) -> M:
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        raise InvalidTaskInput(f"Invalid {model.__name__}: {exc.error_count()} error(s)") from exc


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def confirm_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """PENDING -> CONFIRMED with a unique reference (a repeat returns the same reference)."""
    task = _parse(ConfirmTask, event)
    booking = logic.confirm_booking(repository(), task.bookingId, task.paymentId)
    return {
        "bookingId": booking.bookingId,
        "status": booking.status.value,
        "bookingReference": booking.bookingReference,
    }


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def cancel_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Mark the booking CANCELLED with its reason (idempotent)."""
    task = _parse(CancelTask, event)
    refunded = isinstance(event.get("refund"), dict) and event["refund"].get("status") == "REFUNDED"
    booking = logic.cancel_booking(repository(), task.bookingId, task.reason, refunded)
    return {"bookingId": booking.bookingId, "status": booking.status.value, "reason": booking.cancelReason}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def publish_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Publish BookingConfirmed / BookingCancelled, validated against the v1 schema."""
    task = _parse(PublishTask, event)
    booking = repository().get(task.bookingId)
    if booking is None:
        raise BookingNotFound(f"Booking {task.bookingId} does not exist")
    booking_event = logic.booking_event(booking, task.eventType)
    message_id = publisher().publish(booking_event)
    if task.eventType == BOOKING_CONFIRMED:
        repository().mark_settled(booking.bookingId, logic.now_text())
    logger.info("booking event published", extra={"eventId": booking_event.eventId, "messageId": message_id})
    return {"eventId": booking_event.eventId, "eventType": booking_event.eventType, "messageId": message_id}
