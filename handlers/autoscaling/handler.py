"""Entry points of the autoscaling service: scaleUp, scaleDown (invoked) and monitor (scheduled).

Each answer is a JSON object: the decision (`ScalingResult`) or, on bad input or a
missing group, `{"ok": false, "code", "message", "details"}`. Every decision is
one structured log line and one metric.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.autoscaling import logic
from handlers.autoscaling.config import load_config
from handlers.autoscaling.dal import AutoScalingGroups, CloudWatchCpu
from handlers.autoscaling.models import Direction, MonitorRequest, ScaleRequest, ScalingResult
from handlers.shared.errors import DomainError, InvalidInput
from handlers.shared.observability import logger, metrics, tracer
from handlers.shared.records import RecordError, dump, parse

_groups: AutoScalingGroups | None = None
_cpu: CloudWatchCpu | None = None


def groups() -> AutoScalingGroups:
    global _groups
    if _groups is None:
        _groups = AutoScalingGroups()
    return _groups


def cpu_metrics() -> CloudWatchCpu:
    global _cpu
    if _cpu is None:
        _cpu = CloudWatchCpu()
    return _cpu


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _parse[M](model: type[M], event: Any) -> M:
    if event is None:
        event = {}
    if not isinstance(event, dict):
        raise InvalidInput("The event must be a JSON object")
    try:
        return parse(model, event, "event")
    except RecordError as exc:
        raise InvalidInput("The event is invalid", details=exc.details) from exc


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


def _run(function: str, decide: Callable[[], ScalingResult]) -> dict[str, Any]:
    try:
        return _record(function, decide())
    except DomainError as exc:
        return _refuse(function, exc)
    except RecordError as exc:  # a misconfigured function: say which setting is wrong
        return _refuse(function, InvalidInput("The function's settings are invalid", details=exc.details))


def _manual(function: str, direction: Direction, event: Any) -> dict[str, Any]:
    def decide() -> ScalingResult:
        request = _parse(ScaleRequest, event)
        config = load_config()
        group = groups().describe(config.group_name)
        return logic.scale(
            groups(),
            group,
            direction,
            request.step or config.step,
            dry_run=config.dry_run or request.dryRun,
            now=_now(),
        )

    return _run(function, decide)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def scale_up(event: Any, context: LambdaContext) -> dict[str, Any]:
    return _manual("scaleUp", Direction.UP, event)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def scale_down(event: Any, context: LambdaContext) -> dict[str, Any]:
    return _manual("scaleDown", Direction.DOWN, event)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def monitor(event: Any, context: LambdaContext) -> dict[str, Any]:
    def decide() -> ScalingResult:
        request = _parse(MonitorRequest, event)
        config = load_config()
        return logic.monitor(groups(), cpu_metrics(), config, dry_run=config.dry_run or request.dryRun, now=_now())

    return _run("monitor", decide)
