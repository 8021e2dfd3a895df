"""Invoked entry points of the autoscaling service: scaleUp and scaleDown (by an operator or a runbook).

Each answer is a JSON object: the decision or a refusal (handlers/autoscaling/answers.py).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.autoscaling import logic
from handlers.autoscaling.answers import Adapters, answer, cold_start, parse_event
from handlers.autoscaling.models import Direction, ScaleRequest, ScalingResult
from handlers.shared.init_gc import resume_gc_after_first_invocation
from handlers.shared.observability import logger, metrics, tracer


def _manual(function: str, direction: Direction, event: Any, adapters: Adapters) -> dict[str, Any]:
    def decide() -> ScalingResult:
        request = parse_event(ScaleRequest, event)
        config = adapters.settings()
        group = adapters.groups.describe(config.group_name)
        return logic.scale(
            adapters.groups,
            group,
            direction,
            request.step or config.step,
            dry_run=config.dry_run or request.dryRun,
            now=adapters.clock(),
        )

    return answer(function, decide)


@resume_gc_after_first_invocation
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def scale_up_handler(event: Any, context: LambdaContext, adapters: Adapters | None = None) -> dict[str, Any]:
    return _manual("scaleUp", Direction.UP, event, adapters or cold_start())


@resume_gc_after_first_invocation
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def scale_down_handler(event: Any, context: LambdaContext, adapters: Adapters | None = None) -> dict[str, Any]:
    return _manual("scaleDown", Direction.DOWN, event, adapters or cold_start())
