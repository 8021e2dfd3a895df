"""Autoscaling settings, parsed once from the environment (see services/autoscaling/serverless.yml)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Annotated

from handlers.shared.records import Rules, parse

Percent = Annotated[float, Rules(ge=0, le=100)]
Periods = Annotated[int, Rules(ge=1, le=24)]


@dataclass(frozen=True, kw_only=True)
class AutoscalingConfig:
    group_name: Annotated[str, Rules(min_length=1, max_length=255)]
    step: Annotated[int, Rules(ge=1, le=100)] = 1
    dry_run: bool = False
    # Hysteresis: scale up at >= high for `high_periods` periods in a row, down at
    # <= low for `low_periods`; between the two the monitor holds.
    cpu_high: Percent = 70.0
    high_periods: Periods = 2
    cpu_low: Percent = 30.0
    low_periods: Periods = 3
    period_seconds: Annotated[int, Rules(ge=60, le=3600, multiple_of=60)] = 300
    cooldown_seconds: Annotated[int, Rules(ge=0, le=86_400)] = 300

    def __post_init__(self) -> None:
        if self.cpu_low >= self.cpu_high:
            raise ValueError("CPU_LOW must be below CPU_HIGH (hysteresis band)")

    @property
    def window_periods(self) -> int:
        return max(self.high_periods, self.low_periods)


_ENVIRONMENT = {
    "group_name": "HYBRID_GROUP_NAME",
    "step": "SCALE_STEP",
    "dry_run": "DRY_RUN",
    "cpu_high": "CPU_HIGH",
    "high_periods": "CPU_HIGH_PERIODS",
    "cpu_low": "CPU_LOW",
    "low_periods": "CPU_LOW_PERIODS",
    "period_seconds": "PERIOD_SECONDS",
    "cooldown_seconds": "COOLDOWN_SECONDS",
}


@cache
def load_config() -> AutoscalingConfig:
    values = {field: os.environ[name] for field, name in _ENVIRONMENT.items() if os.environ.get(name, "") != ""}
    return parse(AutoscalingConfig, values)
