"""Scheduled entry point of the autoscaling service: monitor (every 5 minutes where there is a hybrid tier).

Each answer is a JSON object: the decision or a refusal (handlers/autoscaling/answers.py).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.autoscaling import logic
from handlers.autoscaling.answers import answer, parse_event
from handlers.autoscaling.config import load_config
from handlers.autoscaling.dal import AutoScalingGroups, CloudWatchCpu
from handlers.autoscaling.models import MonitorRequest, ScalingResult
from handlers.shared.clock import utc_now
from handlers.shared.observability import logger, metrics, tracer

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


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def monitor_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    def decide() -> ScalingResult:
        request = parse_event(MonitorRequest, event)
        config = load_config()
        return logic.monitor(groups(), cpu_metrics(), config, dry_run=config.dry_run or request.dryRun, now=utc_now())

    return answer("monitor", decide)
