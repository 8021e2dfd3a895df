"""Scheduled entry point of the booking service: the reconciler (`reconcileBookings`).

Every few minutes it finds the bookings whose saga has been open longer than
RECONCILE_AFTER_SECONDS and drives each towards its end (logic.reconcile), then
emits what it saw: `OpenBookingsPastThreshold` (the alarm's metric) and
`OldestOpenBookingSeconds`, plus what it did.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.booking import logic
from handlers.booking.config import BookingConfig, load_config
from handlers.booking.dal import DynamoBookingRepository, StepFunctionsRuns
from handlers.booking.ports import OpenBookings, WorkflowRuns
from handlers.shared.clock import utc_now
from handlers.shared.config import required
from handlers.shared.init_gc import resume_gc_after_first_invocation
from handlers.shared.observability import logger, metrics, tracer
from handlers.shared.records import dump, record


@record
class Adapters:
    """What the reconciler works with, and the function's configuration."""

    config: BookingConfig
    bookings: OpenBookings
    runs: WorkflowRuns


def build_adapters(config: BookingConfig) -> Adapters:
    return Adapters(
        config=config,
        bookings=DynamoBookingRepository(config.bookings_table_name, config.references_table_name),
        runs=StepFunctionsRuns(),
    )


@cache
def cold_start() -> Adapters:
    """The adapters of this process, from its configuration (parsed once)."""
    return build_adapters(load_config())


@resume_gc_after_first_invocation
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def reconcile_handler(
    event: dict[str, Any], context: LambdaContext, adapters: Adapters | None = None
) -> dict[str, Any]:
    wired = adapters or cold_start()
    config = wired.config
    report = logic.reconcile(
        wired.bookings,
        wired.runs,
        workflow_arn=required(config.workflow_arn, "BOOKING_WORKFLOW_ARN"),
        cancel_workflow_arn=required(config.cancel_workflow_arn, "CANCEL_WORKFLOW_ARN"),
        now=utc_now(),
        threshold=dt.timedelta(seconds=config.reconcile_after_seconds),
    )
    metrics.add_metric(name="OpenBookingsPastThreshold", unit=MetricUnit.Count, value=report.openPastThreshold)
    metrics.add_metric(name="OldestOpenBookingSeconds", unit=MetricUnit.Seconds, value=report.oldestOpenSeconds)
    for name in ("started", "redriven", "needsOperator"):
        metrics.add_metric(
            name=f"Reconciler{name[0].upper()}{name[1:]}", unit=MetricUnit.Count, value=getattr(report, name)
        )
    answer: dict[str, Any] = dump(report)
    logger.info("bookings reconciled", extra=answer)
    return answer
