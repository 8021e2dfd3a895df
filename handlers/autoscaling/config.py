"""Autoscaling settings, parsed once from the environment (see services/autoscaling/serverless.yml)."""

from __future__ import annotations

from functools import cache

from handlers.shared.config import env_name, from_environment, refuse, setting
from handlers.shared.records import record


@record
class AutoscalingConfig:
    """The autoscaling functions' settings: the hybrid group and its CPU thresholds."""

    group_name: str = setting("HYBRID_GROUP_NAME")
    step: int = setting("SCALE_STEP", 1)
    dry_run: bool = setting("DRY_RUN", False)
    # Hysteresis: scale up at >= high for `high_periods` periods in a row, down at
    # <= low for `low_periods`; between the two the monitor holds.
    cpu_high: float = setting("CPU_HIGH", 70.0)
    high_periods: int = setting("CPU_HIGH_PERIODS", 2)
    cpu_low: float = setting("CPU_LOW", 30.0)
    low_periods: int = setting("CPU_LOW_PERIODS", 3)
    period_seconds: int = setting("PERIOD_SECONDS", 300)
    cooldown_seconds: int = setting("COOLDOWN_SECONDS", 300)

    def __post_init__(self) -> None:
        def within(name: str, value: float, low: float, high: float) -> None:
            if not low <= value <= high:
                refuse(env_name(AutoscalingConfig, name), f"{value:g} is not within {low:g}..{high:g}")

        if len(self.group_name) > 255:
            refuse("HYBRID_GROUP_NAME", "longer than 255 characters")
        within("step", self.step, 1, 100)
        within("cpu_high", self.cpu_high, 0, 100)
        within("cpu_low", self.cpu_low, 0, 100)
        within("high_periods", self.high_periods, 1, 24)
        within("low_periods", self.low_periods, 1, 24)
        within("period_seconds", self.period_seconds, 60, 3600)
        if self.period_seconds % 60:
            refuse("PERIOD_SECONDS", f"{self.period_seconds} is not a multiple of 60")
        within("cooldown_seconds", self.cooldown_seconds, 0, 86_400)
        if self.cpu_low >= self.cpu_high:
            refuse("CPU_LOW", "CPU_LOW must be below CPU_HIGH (hysteresis band)")

    @property
    def window_periods(self) -> int:
        return max(self.high_periods, self.low_periods)


@cache
def load_config() -> AutoscalingConfig:
    return from_environment(AutoscalingConfig)
