"""What the autoscaling functions read, decide and answer."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class Direction(StrEnum):
    UP = "UP"
    DOWN = "DOWN"


class Outcome(StrEnum):
    SCALED = "SCALED"  # desired capacity changed
    WOULD_SCALE = "WOULD_SCALE"  # dry run: decided, nothing changed
    REFUSED_AT_BOUND = "REFUSED_AT_BOUND"  # already at the group's min/max
    HOLD = "HOLD"  # monitor: no action


class HoldReason(StrEnum):
    NOT_SUSTAINED = "NOT_SUSTAINED"  # mixed or in-between figures: no rule met
    MISSING_DATA = "MISSING_DATA"  # a period the rules need has no datapoint
    COOLDOWN = "COOLDOWN"  # the group scaled too recently


class GroupState(BaseModel):
    """The group as Auto Scaling reports it; bounds are never assumed."""

    model_config = ConfigDict(frozen=True)

    name: str
    arn: str
    min_size: int
    max_size: int
    desired: int
    last_activity_at: dt.datetime | None = None


class ScaleRequest(BaseModel):
    """Event of `scaleUp`/`scaleDown` (all optional). `dryRun` may only make a call safer."""

    model_config = ConfigDict(extra="forbid")

    step: Annotated[int, Field(ge=1, le=100)] | None = None
    dryRun: bool = False


class MonitorRequest(BaseModel):
    """Event of `monitor`: a scheduled (EventBridge) event, or `{"dryRun": true}` by hand."""

    model_config = ConfigDict(extra="ignore")

    dryRun: bool = False


class ScalingResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    group: str
    direction: Direction | None
    outcome: Outcome
    before: int
    after: int
    minSize: int
    maxSize: int
    dryRun: bool
    clamped: bool = False
    reason: str
    holdReason: HoldReason | None = None
    cpu: list[float | None] = []
