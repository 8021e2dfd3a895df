"""Invoked entry points of the autoscaling service: scaleUp and scaleDown (by an operator or a runbook).

Each answer is a JSON object: the decision or a refusal (handlers/autoscaling/answers.py).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.autoscaling import logic
from handlers.autoscaling.answers import answer, parse_event
from handlers.autoscaling.config import load_config
from handlers.autoscaling.dal import AutoScalingGroups
from handlers.autoscaling.models import Direction, ScaleRequest, ScalingResult
from handlers.shared.clock import utc_now
from handlers.shared.observability import logger, metrics, tracer

_groups: AutoScalingGroups | None = None


def groups() -> AutoScalingGroups:
    global _groups
    if _groups is None:
        _groups = AutoScalingGroups()
    return _groups


def _manual(function: str, direction: Direction, event: Any) -> dict[str, Any]:
    def decide() -> ScalingResult:
        request = parse_event(ScaleRequest, event)
        config = load_config()
        group = groups().describe(config.group_name)
        return logic.scale(
            groups(),
            group,
            direction,
            request.step or config.step,
            dry_run=config.dry_run or request.dryRun,
            now=utc_now(),
        )

    return answer(function, decide)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def scale_up_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return _manual("scaleUp", Direction.UP, event)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def scale_down_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return _manual("scaleDown", Direction.DOWN, event)
