"""Task functions of the booking workflows (Step Functions calls them directly).

A task's exception reaches Step Functions by class name (`BookingNotPending`, ...),
which is what the state machine's Retry and Catch match on.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.booking import logic
from handlers.booking.config import BookingConfig, load_config
from handlers.booking.dal import DynamoBookingRepository, SnsEventPublisher
from handlers.booking.errors import InvalidTaskInput
from handlers.booking.models import CancelReason, CancelTask, ConfirmTask, PublishTask
from handlers.booking.ports import BookingRepository, EventPublisher
from handlers.shared.config import required
from handlers.shared.init_gc import resume_gc_after_first_invocation
from handlers.shared.observability import logger, metrics, tracer
from handlers.shared.records import record
from handlers.shared.tasks import aws_faults_classified, parse_task_input


@record
class Adapters:
    """What the booking tasks work with: built once per process (`cold_start`), or passed in by a test."""

    repository: BookingRepository
    publisher: EventPublisher | None  # only publishBookingEvent gets (and needs) the topic


def build_adapters(config: BookingConfig) -> Adapters:
    repository = DynamoBookingRepository(config.bookings_table_name, config.references_table_name)
    topic = config.events_topic_arn
    return Adapters(repository=repository, publisher=SnsEventPublisher(topic) if topic else None)


@cache
def cold_start() -> Adapters:
    """The adapters of this process, from its configuration (parsed once)."""
    return build_adapters(load_config())


@resume_gc_after_first_invocation
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@aws_faults_classified
def confirm_handler(event: dict[str, Any], context: LambdaContext, adapters: Adapters | None = None) -> dict[str, Any]:
    """PENDING -> CONFIRMED with a unique reference (a repeat returns the same reference)."""
    task = parse_task_input(ConfirmTask, event, InvalidTaskInput)
    booking = logic.confirm_booking((adapters or cold_start()).repository, task.bookingId, task.paymentId)
    tracer.put_annotation(key="bookingId", value=booking.bookingId)
    tracer.put_annotation(key="outcome", value=booking.status.value)
    metrics.add_metric(name="BookingConfirmed", unit="Count", value=1)
    return {
        "bookingId": booking.bookingId,
        "status": booking.status.value,
        "bookingReference": booking.bookingReference,
    }


@resume_gc_after_first_invocation
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@aws_faults_classified
def cancel_handler(event: dict[str, Any], context: LambdaContext, adapters: Adapters | None = None) -> dict[str, Any]:
    """Mark the booking CANCELLED with its reason (idempotent)."""
    task = parse_task_input(CancelTask, event, InvalidTaskInput)
    refunded = isinstance(event.get("refund"), dict) and event["refund"].get("status") == "REFUNDED"
    booking = logic.cancel_booking((adapters or cold_start()).repository, task.bookingId, task.reason, refunded)
    tracer.put_annotation(key="bookingId", value=booking.bookingId)
    tracer.put_annotation(key="outcome", value=f"{booking.status.value}:{task.reason}")
    # by reason (a closed set, CancelReason: low cardinality) in a flush of its own, so BookingFailed
    # below keeps the service dimension alone and the failure-rate alarm can read it
    with single_metric(name="BookingCancelled", unit=MetricUnit.Count, value=1) as cancelled:
        cancelled.add_dimension(name="service", value=metrics.service or "booking")
        cancelled.add_dimension(name="reason", value=task.reason)
    if task.reason != CancelReason.CUSTOMER_CANCELLED:
        metrics.add_metric(name="BookingFailed", unit="Count", value=1)
    return {"bookingId": booking.bookingId, "status": booking.status.value, "reason": booking.cancelReason}


@resume_gc_after_first_invocation
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@aws_faults_classified
def publish_handler(event: dict[str, Any], context: LambdaContext, adapters: Adapters | None = None) -> dict[str, Any]:
    """Publish BookingConfirmed / BookingCancelled, validated against the v1 schema."""
    task = parse_task_input(PublishTask, event, InvalidTaskInput)
    tracer.put_annotation(key="bookingId", value=task.bookingId)
    wired = adapters or cold_start()
    booking_event, message_id = logic.publish_booking_event(
        wired.repository, required(wired.publisher, "BOOKING_EVENTS_TOPIC_ARN"), task.bookingId, task.eventType
    )
    logger.info("booking event published", extra={"eventId": booking_event.eventId, "messageId": message_id})
    return {"eventId": booking_event.eventId, "eventType": booking_event.eventType, "messageId": message_id}
