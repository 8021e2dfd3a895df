"""Scheduled entry point of the autoscaling service: monitor (every 5 minutes where there is a hybrid tier).

Each answer is a JSON object: the decision or a refusal (handlers/autoscaling/answers.py).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.autoscaling import logic
from handlers.autoscaling.answers import Adapters, answer, cold_start, parse_event
from handlers.autoscaling.models import MonitorRequest, ScalingResult
from handlers.shared.init_gc import resume_gc_after_first_invocation
from handlers.shared.observability import logger, metrics, tracer


@resume_gc_after_first_invocation
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def monitor_handler(event: Any, context: LambdaContext, adapters: Adapters | None = None) -> dict[str, Any]:
    wired = adapters or cold_start()

    def decide() -> ScalingResult:
        request = parse_event(MonitorRequest, event)
        config = wired.settings()
        dry_run = config.dry_run or request.dryRun
        return logic.monitor(wired.groups, wired.cpu, config, dry_run=dry_run, now=wired.clock())

    return answer("monitor", decide)
