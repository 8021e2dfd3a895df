"""Scaling rules over plain values (no boto3): bounds, hysteresis, cooldown, dry run."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from handlers.autoscaling.config import AutoscalingConfig
from handlers.autoscaling.models import Direction, GroupState, HoldReason, Outcome, ScalingResult
from handlers.autoscaling.ports import CpuMetrics, ScalingGroups


def plan(group: GroupState, direction: Direction, step: int) -> tuple[int, bool]:
    """The desired capacity after moving `step` towards `direction`, kept inside [min, max].

    Returns (target, clamped). A group already at (or, after an outside change of
    its bounds, beyond) the bound in that direction yields target == desired.
    """
    if direction is Direction.UP:
        wanted = group.desired + step
        target = max(group.desired, min(wanted, group.max_size))
    else:
        wanted = group.desired - step
        target = min(group.desired, max(wanted, group.min_size))
    return target, target != wanted


def scale(
    groups: ScalingGroups, group: GroupState, direction: Direction, step: int, *, dry_run: bool, now: dt.datetime
) -> ScalingResult:
    """Move the group one step; refuse (and say so) when it is already at the bound."""
    target, clamped = plan(group, direction, step)
    bound = group.max_size if direction is Direction.UP else group.min_size
    common: dict[str, Any] = {
        "group": group.name,
        "direction": direction,
        "before": group.desired,
        "minSize": group.min_size,
        "maxSize": group.max_size,
        "dryRun": dry_run,
    }
    if target == group.desired:
        side = "maximum" if direction is Direction.UP else "minimum"
        return ScalingResult(
            **common,
            after=group.desired,
            outcome=Outcome.REFUSED_AT_BOUND,
            reason=f"desired capacity {group.desired} is at the group's {side} {bound}; nothing changed",
        )
    note = f" (clamped to the group's bound {bound})" if clamped else ""
    if dry_run:
        return ScalingResult(
            **common,
            after=target,
            clamped=clamped,
            outcome=Outcome.WOULD_SCALE,
            reason=f"dry run: would set desired capacity {group.desired} -> {target}{note}",
        )
    groups.set_desired(group, target, now)
    return ScalingResult(
        **common,
        after=target,
        clamped=clamped,
        outcome=Outcome.SCALED,
        reason=f"desired capacity {group.desired} -> {target}{note}",
    )


def metric_window(now: dt.datetime, config: AutoscalingConfig) -> list[dt.datetime]:
    """Start times of the last complete periods, oldest first (the current, partial one excluded)."""
    period = config.period_seconds
    epoch = int(now.timestamp())
    end = epoch - epoch % period
    return [
        dt.datetime.fromtimestamp(end - (config.window_periods - i) * period, tz=dt.UTC)
        for i in range(config.window_periods)
    ]


def decide(cpu: Sequence[float | None], config: AutoscalingConfig) -> Direction | HoldReason:
    """Hysteresis over the window's averages (oldest first; None is a period with no datapoint)."""
    recent_high = list(cpu[-config.high_periods :])
    recent_low = list(cpu[-config.low_periods :])
    if all(v is not None and v >= config.cpu_high for v in recent_high):
        return Direction.UP
    if all(v is not None and v <= config.cpu_low for v in recent_low):
        return Direction.DOWN
    # A rule was not met. If it failed only because a period is missing, the
    # data cannot tell (hold, and say data is missing); otherwise it is a real "no".
    up_possible = all(v is None or v >= config.cpu_high for v in recent_high)
    down_possible = all(v is None or v <= config.cpu_low for v in recent_low)
    if (up_possible and None in recent_high) or (down_possible and None in recent_low) or all(v is None for v in cpu):
        return HoldReason.MISSING_DATA
    return HoldReason.NOT_SUSTAINED


def in_cooldown(group: GroupState, now: dt.datetime, cooldown_seconds: int) -> bool:
    if group.last_activity_at is None:
        return False
    return now - group.last_activity_at < dt.timedelta(seconds=cooldown_seconds)


def monitor(
    groups: ScalingGroups, metrics: CpuMetrics, config: AutoscalingConfig, *, dry_run: bool, now: dt.datetime
) -> ScalingResult:
    """One monitoring round: cooldown, then CPU hysteresis, then the same scaling as scaleUp/scaleDown."""
    group = groups.describe(config.group_name)
    hold: dict[str, Any] = {
        "group": group.name,
        "direction": None,
        "outcome": Outcome.HOLD,
        "before": group.desired,
        "after": group.desired,
        "minSize": group.min_size,
        "maxSize": group.max_size,
        "dryRun": dry_run,
    }
    if in_cooldown(group, now, config.cooldown_seconds):
        assert group.last_activity_at is not None
        age = int((now - group.last_activity_at).total_seconds())
        return ScalingResult(
            **hold,
            holdReason=HoldReason.COOLDOWN,
            reason=f"last scaling activity {age}s ago, inside the {config.cooldown_seconds}s cooldown",
        )
    window = metric_window(now, config)
    end = window[-1] + dt.timedelta(seconds=config.period_seconds)
    averages = metrics.average_cpu(group.name, window[0], end, config.period_seconds)
    cpu = [_round(averages.get(start)) for start in window]
    verdict = decide(cpu, config)
    if isinstance(verdict, HoldReason):
        present = sum(v is not None for v in cpu)
        why = {
            HoldReason.MISSING_DATA: f"only {present} of {len(cpu)} periods have CPU datapoints; not deciding on gaps",
            HoldReason.NOT_SUSTAINED: (
                f"CPU neither >= {config.cpu_high:g}% for {config.high_periods} periods "
                f"nor <= {config.cpu_low:g}% for {config.low_periods}"
            ),
        }[verdict]
        return ScalingResult(**hold, holdReason=verdict, reason=why, cpu=cpu)
    result = scale(groups, group, verdict, config.step, dry_run=dry_run, now=now)
    return dataclasses.replace(result, cpu=cpu)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
