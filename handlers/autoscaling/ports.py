"""The scaling logic's ports: the Auto Scaling groups and their CPU metrics, as Protocols (adapters in dal.py)."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from handlers.autoscaling.models import GroupState


class ScalingGroups(Protocol):
    def describe(self, name: str) -> GroupState: ...

    def set_desired(self, group: GroupState, desired: int, at: dt.datetime) -> None: ...


class CpuMetrics(Protocol):
    def average_cpu(
        self, group: str, start: dt.datetime, end: dt.datetime, period_seconds: int
    ) -> dict[dt.datetime, float]: ...
