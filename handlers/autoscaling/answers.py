"""How every autoscaling entry point answers: the decision (`ScalingResult`) or a refusal.

A refusal is `{"ok": false, "code", "message", "details"}` (bad input, a missing
group, a bad setting). Every decision is one structured log line and one metric.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ValidationError

from handlers.autoscaling.models import ScalingResult
from handlers.shared.errors import DomainError, InvalidInput, validation_details
from handlers.shared.observability import logger, metrics
from handlers.shared.tasks import parse_task_input


def parse_event[M: BaseModel](model: type[M], event: Any) -> M:
    """The invocation's event as `model` (no event at all is `{}`), through the one task-input parser."""
    return parse_task_input(model, {} if event is None else event, InvalidInput, "event")


def _record(function: str, result: ScalingResult) -> dict[str, Any]:
    answer = {"ok": True, **result.model_dump(mode="json")}
    logger.info("scaling decision", extra={"function": function, "decision": answer})
    metrics.add_dimension(name="group", value=result.group)
    metrics.add_metric(name=f"Decision{result.outcome.value.title().replace('_', '')}", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="DesiredCapacity", unit=MetricUnit.Count, value=result.after)
    return answer


def _refuse(function: str, exc: DomainError) -> dict[str, Any]:
    answer = {"ok": False, "code": exc.code, "message": exc.message, "details": exc.details}
    logger.error("scaling refused", extra={"function": function, "error": answer})
    metrics.add_metric(name="DecisionError", unit=MetricUnit.Count, value=1)
    return answer


def answer(function: str, decide: Callable[[], ScalingResult]) -> dict[str, Any]:
    """Run one decision and answer it: recorded, or refused with the reason."""
    try:
        return _record(function, decide())
    except DomainError as exc:
        return _refuse(function, exc)
    except ValidationError as exc:  # a misconfigured function: say which setting is wrong
        return _refuse(function, InvalidInput("The function's settings are invalid", details=validation_details(exc)))
