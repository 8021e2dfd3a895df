"""What the autoscaling functions read, decide and answer."""

from __future__ import annotations

import datetime as dt
from dataclasses import field
from enum import StrEnum
from typing import Annotated, ClassVar

from handlers.shared.records import Extra, Rules, record


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


@record
class GroupState:
    """The group as Auto Scaling reports it; bounds are never assumed."""

    name: str
    arn: str
    min_size: int
    max_size: int
    desired: int
    last_activity_at: dt.datetime | None = None


@record
class ScaleRequest:
    """Event of `scaleUp`/`scaleDown` (all optional). `dryRun` may only make a call safer."""

    EXTRA: ClassVar[Extra] = "forbid"

    step: Annotated[int, Rules(ge=1, le=100)] | None = None
    dryRun: bool = False


@record
class MonitorRequest:
    """Event of `monitor`: a scheduled (EventBridge) event, or `{"dryRun": true}` by hand (extra keys ignored)."""

    dryRun: bool = False


@record
class ScalingResult:
    """What a scaling decision did to the group (or would have done, in a dry run)."""

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
    cpu: list[float | None] = field(default_factory=list)
