"""How every autoscaling entry point answers: the decision (`ScalingResult`) or a refusal.

A refusal is `{"ok": false, "code", "message", "details"}` (bad input, a missing
group, a bad setting). Every decision is one structured log line and one metric.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from handlers.autoscaling.config import AutoscalingConfig, load_config
from handlers.autoscaling.dal import AutoScalingGroups, CloudWatchCpu
from handlers.autoscaling.models import ScalingResult
from handlers.autoscaling.ports import CpuMetrics, ScalingGroups
from handlers.shared.clock import utc_now
from handlers.shared.config import ConfigError
from handlers.shared.errors import DomainError, InvalidInput
from handlers.shared.observability import logger, metrics
from handlers.shared.records import dump, record
from handlers.shared.tasks import parse_task_input


def parse_event[M](model: type[M], event: Any) -> M:
    """The invocation's event as `model` (no event at all is `{}`), through the one task-input parser."""
    return parse_task_input(model, {} if event is None else event, InvalidInput, "event")


def _record(function: str, result: ScalingResult) -> dict[str, Any]:
    answer = {"ok": True, **dump(result)}
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


@record
class Adapters:
    """What the scaling logic works with: built once per process (`cold_start`), or passed in by a test.

    `settings` is read at each decision (parsed once by `load_config`), so that a bad
    setting is answered as a refusal, not raised.
    """

    groups: ScalingGroups
    cpu: CpuMetrics
    settings: Callable[[], AutoscalingConfig] = load_config
    clock: Callable[[], dt.datetime] = utc_now


@cache
def cold_start() -> Adapters:
    """The adapters of this process."""
    return Adapters(groups=AutoScalingGroups(), cpu=CloudWatchCpu())


def answer(function: str, decide: Callable[[], ScalingResult]) -> dict[str, Any]:
    """Run one decision and answer it: recorded, or refused with the reason."""
    try:
        return _record(function, decide())
    except DomainError as exc:
        return _refuse(function, exc)
    except ConfigError as exc:  # a misconfigured function: say which setting is wrong
        return _refuse(function, InvalidInput("The function's settings are invalid", details=exc.details))
