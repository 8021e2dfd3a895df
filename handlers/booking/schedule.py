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
from handlers.booking.config import load_config
from handlers.booking.dal import DynamoBookingRepository, StepFunctionsRuns
from handlers.shared.observability import logger, metrics, tracer
from handlers.shared.records import dump


@cache
def repository() -> DynamoBookingRepository:
    config = load_config()
    return DynamoBookingRepository(config.bookings_table_name, config.references_table_name)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def reconcile_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config = load_config()
    report = logic.reconcile(
        repository(),
        StepFunctionsRuns(),
        workflow_arn=config.workflow_arn,
        cancel_workflow_arn=config.cancel_workflow_arn,
        now=dt.datetime.now(dt.UTC),
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
