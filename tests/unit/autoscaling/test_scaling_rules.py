"""Scaling rules without AWS: bounds, hysteresis, cooldown source."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from handlers.autoscaling.config import AutoscalingConfig
from handlers.autoscaling.dal import LAST_SCALED_TAG, AutoScalingGroups
from handlers.autoscaling.logic import decide, in_cooldown, metric_window, plan
from handlers.autoscaling.models import Direction, GroupState, HoldReason
from handlers.shared.records import RecordError, parse

CONFIG = AutoscalingConfig(group_name="g", cpu_high=70, high_periods=2, cpu_low=30, low_periods=3)
NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)


def group(desired: int, min_size: int = 1, max_size: int = 5, last: dt.datetime | None = None) -> GroupState:
    return GroupState(name="g", arn="arn", min_size=min_size, max_size=max_size, desired=desired, last_activity_at=last)


@pytest.mark.parametrize(
    ("desired", "direction", "step", "expected"),
    [
        (2, Direction.UP, 1, (3, False)),
        (4, Direction.UP, 3, (5, True)),
        (5, Direction.UP, 1, (5, True)),
        (3, Direction.DOWN, 1, (2, False)),
        (2, Direction.DOWN, 5, (1, True)),
        (1, Direction.DOWN, 3, (1, True)),
        (7, Direction.UP, 1, (7, True)),  # above a lowered maximum: never pushed further up
        (7, Direction.DOWN, 1, (6, False)),  # but it may come down
    ],
)
def test_plan_never_leaves_the_groups_bounds(desired: int, direction: Direction, step: int, expected: Any) -> None:
    assert plan(group(desired), direction, step) == expected


@pytest.mark.parametrize(
    ("cpu", "verdict"),
    [
        ([10.0, 70.0, 70.0], Direction.UP),
        ([30.0, 30.0, 0.0], Direction.DOWN),
        ([20.0, 69.9, 99.0], HoldReason.NOT_SUSTAINED),
        ([30.1, 10.0, 10.0], HoldReason.NOT_SUSTAINED),
        ([None, 80.0, 80.0], Direction.UP),  # the up rule needs only two periods
        ([None, 10.0, 10.0], HoldReason.MISSING_DATA),  # the down rule needs three
        ([None, None, None], HoldReason.MISSING_DATA),
        ([None, 50.0, 80.0], HoldReason.NOT_SUSTAINED),  # 50 already rules both out
    ],
)
def test_hysteresis(cpu: list[float | None], verdict: Any) -> None:
    assert decide(cpu, CONFIG) == verdict


def test_the_window_is_the_last_complete_periods() -> None:
    window = metric_window(dt.datetime(2026, 11, 28, 12, 7, 1, tzinfo=dt.UTC), CONFIG)
    assert [t.strftime("%H:%M") for t in window] == ["11:50", "11:55", "12:00"]


def test_cooldown() -> None:
    assert not in_cooldown(group(2), NOW, 300)
    assert in_cooldown(group(2, last=NOW - dt.timedelta(seconds=299)), NOW, 300)
    assert not in_cooldown(group(2, last=NOW - dt.timedelta(seconds=300)), NOW, 300)


def test_settings_without_a_hysteresis_band_are_refused() -> None:
    with pytest.raises(RecordError, match="below CPU_HIGH") as refused:
        parse(AutoscalingConfig, {"group_name": "g", "cpu_high": "50", "cpu_low": "50"})
    assert refused.value.details == [
        {"field": "body", "issue": "Value error, CPU_LOW must be below CPU_HIGH (hysteresis band)"}
    ]


def test_settings_from_the_environment_are_read_as_their_types_and_refused_out_of_range() -> None:
    # Given the values as the environment holds them (text)
    config = parse(AutoscalingConfig, {"group_name": "g", "step": "2", "dry_run": "true", "cpu_high": "80.5"})
    assert (config.step, config.dry_run, config.cpu_high) == (2, True, 80.5)
    # When a value is out of its range or not a number, every problem is named
    with pytest.raises(RecordError) as refused:
        parse(AutoscalingConfig, {"group_name": "", "period_seconds": "90", "step": "two"})
    assert refused.value.details == [
        {"field": "group_name", "issue": "String should have at least 1 character"},
        {"field": "step", "issue": "Input should be a valid integer, unable to parse string as an integer"},
        {"field": "period_seconds", "issue": "Input should be a multiple of 60"},
    ]


class FakeAutoScaling:
    """What AWS answers for a group whose last activity is newer than our tag."""

    def __init__(self, activity: dt.datetime | None, tag: str | None) -> None:
        self.activity = activity
        self.tag = tag

    def describe_auto_scaling_groups(self, **_: Any) -> dict[str, Any]:
        tags = [{"Key": LAST_SCALED_TAG, "Value": self.tag}] if self.tag else []
        return {
            "AutoScalingGroups": [
                {
                    "AutoScalingGroupName": "g",
                    "AutoScalingGroupARN": "arn:aws:autoscaling:eu-west-1:1:autoScalingGroup:u:autoScalingGroupName/g",
                    "MinSize": 1,
                    "MaxSize": 4,
                    "DesiredCapacity": 2,
                    "Tags": tags,
                }
            ]
        }

    def describe_scaling_activities(self, **_: Any) -> dict[str, Any]:
        return {"Activities": [{"StartTime": self.activity}] if self.activity else []}


@pytest.mark.parametrize(
    ("activity", "tag", "expected"),
    [
        (NOW, "2026-11-28T11:00:00Z", NOW),
        (NOW - dt.timedelta(hours=2), "2026-11-28T11:00:00Z", NOW - dt.timedelta(hours=1)),
        (None, None, None),
        (None, "not a time", None),
    ],
)
def test_last_activity_is_the_newer_of_the_groups_activities_and_our_tag(
    activity: dt.datetime | None, tag: str | None, expected: dt.datetime | None
) -> None:
    state = AutoScalingGroups(FakeAutoScaling(activity, tag)).describe("g")
    assert state.last_activity_at == expected
    assert (state.min_size, state.max_size, state.desired) == (1, 4, 2)


class RefusingAutoScaling(FakeAutoScaling):
    def __init__(self, code: str) -> None:
        super().__init__(None, None)
        self.code = code

    def set_desired_capacity(self, **_: Any) -> None:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": self.code, "Message": "no"}}, "SetDesiredCapacity")


@pytest.mark.parametrize(
    ("code", "expected"), [("AccessDenied", "SCALING_UNAVAILABLE"), ("ScalingActivityInProgress", "CONFLICT")]
)
def test_a_refused_change_becomes_a_domain_error(code: str, expected: str) -> None:
    from handlers.shared.errors import DomainError

    groups = AutoScalingGroups(RefusingAutoScaling(code))
    with pytest.raises(DomainError) as raised:
        groups.set_desired(groups.describe("g"), 3, NOW)
    assert raised.value.code == expected
