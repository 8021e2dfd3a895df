"""scaleUp, scaleDown and monitor: the real handlers against Auto Scaling and CloudWatch in moto."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import boto3
import pytest

from tests.support.events import FakeLambdaContext

GROUP = "airline-local-hybrid"
PERIOD = 300
NOW = dt.datetime(2026, 11, 28, 12, 2, 30, tzinfo=dt.UTC)  # the current period started 12:00
LAST_COMPLETE = dt.datetime(2026, 11, 28, 11, 55, tzinfo=dt.UTC)  # start of the last complete period


class Functions:
    """scaleUp, scaleDown and monitor with adapters of the test: settings read from the environment
    at each decision (as a cold start would parse them), and a clock the test sets."""

    def __init__(self) -> None:
        from handlers.autoscaling.answers import Adapters
        from handlers.autoscaling.config import AutoscalingConfig
        from handlers.autoscaling.dal import AutoScalingGroups, CloudWatchCpu
        from handlers.shared.config import from_environment

        self.now = NOW
        self.adapters = Adapters(
            groups=AutoScalingGroups(),
            cpu=CloudWatchCpu(),
            settings=lambda: from_environment(AutoscalingConfig),
            clock=lambda: self.now,
        )

    def scale_up(self, event: Any, context: Any) -> dict[str, Any]:
        from handlers.autoscaling import tasks

        return tasks.scale_up_handler(event, context, adapters=self.adapters)

    def scale_down(self, event: Any, context: Any) -> dict[str, Any]:
        from handlers.autoscaling import tasks

        return tasks.scale_down_handler(event, context, adapters=self.adapters)

    def monitor(self, event: Any, context: Any) -> dict[str, Any]:
        from handlers.autoscaling import schedule

        return schedule.monitor_handler(event, context, adapters=self.adapters)


@pytest.fixture
def handler(aws: None, monkeypatch: pytest.MonkeyPatch) -> Functions:
    monkeypatch.setenv("HYBRID_GROUP_NAME", GROUP)
    monkeypatch.setenv("SCALE_STEP", "1")
    monkeypatch.setenv("DRY_RUN", "false")
    monkeypatch.setenv("PERIOD_SECONDS", str(PERIOD))
    monkeypatch.setenv("COOLDOWN_SECONDS", "600")
    return Functions()


def create_group(*, min_size: int = 1, max_size: int = 4, desired: int = 2, name: str = GROUP) -> None:
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="eu-west-1a")["Subnet"]
    template = ec2.create_launch_template(
        LaunchTemplateName=f"{name}-lt",
        LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"},
    )["LaunchTemplate"]["LaunchTemplateId"]
    boto3.client("autoscaling", region_name="eu-west-1").create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
        MinSize=min_size,
        MaxSize=max_size,
        DesiredCapacity=desired,
        VPCZoneIdentifier=subnet["SubnetId"],
    )


def desired() -> int:
    groups = boto3.client("autoscaling", region_name="eu-west-1").describe_auto_scaling_groups(
        AutoScalingGroupNames=[GROUP]
    )["AutoScalingGroups"]
    return int(groups[0]["DesiredCapacity"])


def put_cpu(values: Sequence[float | None], *, group: str = GROUP, last: dt.datetime = LAST_COMPLETE) -> None:
    """One average per period, the last value in period `last` (None: no datapoint)."""
    cloudwatch = boto3.client("cloudwatch", region_name="eu-west-1")
    for age, value in enumerate(reversed(values)):
        if value is None:
            continue
        start = last - dt.timedelta(seconds=age * PERIOD)
        # Two samples inside the period, averaging to `value`.
        cloudwatch.put_metric_data(
            Namespace="AWS/EC2",
            MetricData=[
                {
                    "MetricName": "CPUUtilization",
                    "Dimensions": [{"Name": "AutoScalingGroupName", "Value": group}],
                    "Timestamp": start + dt.timedelta(seconds=offset),
                    "Value": value + delta,
                    "Unit": "Percent",
                }
                for offset, delta in ((30, -1.0), (200, 1.0))
            ],
        )


def invoke(handler: Any, function: str, event: Any = None) -> dict[str, Any]:
    answer: dict[str, Any] = getattr(handler, function)(event if event is not None else {}, FakeLambdaContext())
    return answer


# scaleUp / scaleDown -------------------------------------------------------------------


def test_scale_up_adds_one_step_and_reports_before_and_after(handler: Any) -> None:
    create_group(min_size=1, max_size=4, desired=2)

    answer = invoke(handler, "scale_up")

    assert answer["ok"] is True
    assert (answer["outcome"], answer["before"], answer["after"]) == ("SCALED", 2, 3)
    assert (answer["minSize"], answer["maxSize"]) == (1, 4)
    assert desired() == 3


def test_scale_down_removes_one_step(handler: Any) -> None:
    create_group(min_size=1, max_size=4, desired=3)

    answer = invoke(handler, "scale_down")

    assert (answer["outcome"], answer["before"], answer["after"]) == ("SCALED", 3, 2)
    assert desired() == 2


def test_scale_up_at_the_maximum_refuses_and_says_so(handler: Any) -> None:
    create_group(min_size=1, max_size=3, desired=3)

    answer = invoke(handler, "scale_up")

    assert answer["outcome"] == "REFUSED_AT_BOUND"
    assert (answer["before"], answer["after"]) == (3, 3)
    assert "maximum 3" in answer["reason"]
    assert desired() == 3


def test_scale_down_at_the_minimum_refuses_instead_of_going_below(handler: Any) -> None:
    # The original sample set a desired capacity of -2 here.
    create_group(min_size=1, max_size=4, desired=1)

    answer = invoke(handler, "scale_down", {"step": 3})

    assert answer["outcome"] == "REFUSED_AT_BOUND"
    assert "minimum 1" in answer["reason"]
    assert desired() == 1


def test_a_step_past_the_bound_is_clamped_to_the_groups_own_maximum(handler: Any) -> None:
    create_group(min_size=1, max_size=5, desired=4)

    answer = invoke(handler, "scale_up", {"step": 3})

    assert (answer["outcome"], answer["after"], answer["clamped"]) == ("SCALED", 5, True)
    assert desired() == 5


def test_dry_run_decides_and_changes_nothing(handler: Any) -> None:
    create_group(min_size=1, max_size=4, desired=2)

    answer = invoke(handler, "scale_up", {"dryRun": True})

    assert (answer["outcome"], answer["before"], answer["after"], answer["dryRun"]) == ("WOULD_SCALE", 2, 3, True)
    assert desired() == 2


def test_dry_run_setting_of_the_function_cannot_be_overridden_by_the_event(
    handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRY_RUN", "true")
    create_group(min_size=1, max_size=4, desired=2)

    answer = invoke(handler, "scale_down", {"dryRun": False})

    assert answer["outcome"] == "WOULD_SCALE"
    assert desired() == 2


def test_a_missing_group_is_a_clear_error(handler: Any) -> None:
    answer = invoke(handler, "scale_up")

    assert answer == {
        "ok": False,
        "code": "GROUP_NOT_FOUND",
        "message": f"Auto Scaling group {GROUP} does not exist (is the hybrid tier deployed here?)",
        "details": [],
    }


@pytest.mark.parametrize("event", [{"step": 0}, {"step": "two"}, {"unknown": 1}, ["not", "an", "object"]])
def test_a_bad_event_is_refused_with_details(handler: Any, event: Any) -> None:
    create_group(desired=2)

    answer = invoke(handler, "scale_up", event)

    assert answer["ok"] is False
    assert answer["code"] == "VALIDATION_ERROR"
    assert desired() == 2


def test_a_bad_setting_is_reported_not_raised(handler: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPU_LOW", "80")  # above CPU_HIGH (70): no hysteresis band
    create_group(desired=2)

    answer = invoke(handler, "monitor")

    assert answer["ok"] is False
    assert answer["code"] == "VALIDATION_ERROR"
    assert "CPU_LOW" in str(answer["details"])


# monitor -------------------------------------------------------------------------------


def test_monitor_scales_up_on_sustained_high_cpu(handler: Any) -> None:
    create_group(min_size=1, max_size=4, desired=2)
    put_cpu([40.0, 75.0, 90.0])

    answer = invoke(handler, "monitor", {"source": "aws.events", "detail-type": "Scheduled Event"})

    assert (answer["outcome"], answer["direction"], answer["before"], answer["after"]) == ("SCALED", "UP", 2, 3)
    assert answer["cpu"] == [40.0, 75.0, 90.0]
    assert desired() == 3


def test_monitor_scales_down_on_sustained_idleness(handler: Any) -> None:
    create_group(min_size=1, max_size=4, desired=3)
    put_cpu([10.0, 20.0, 5.0])

    answer = invoke(handler, "monitor")

    assert (answer["outcome"], answer["direction"], answer["after"]) == ("SCALED", "DOWN", 2)
    assert desired() == 2


@pytest.mark.parametrize("cpu", [[80.0, 50.0, 90.0], [10.0, 45.0, 20.0], [50.0, 50.0, 50.0], [90.0, 10.0, 90.0]])
def test_monitor_holds_on_mixed_or_middling_cpu(handler: Any, cpu: list[float]) -> None:
    create_group(desired=2)
    put_cpu(cpu)

    answer = invoke(handler, "monitor")

    assert (answer["outcome"], answer["holdReason"]) == ("HOLD", "NOT_SUSTAINED")
    assert desired() == 2


@pytest.mark.parametrize("cpu", [[], [None, None, 95.0], [None, 10.0, 10.0], [20.0, None, 10.0]])
def test_monitor_holds_when_datapoints_are_missing_and_says_why(handler: Any, cpu: list[float | None]) -> None:
    create_group(desired=2)
    put_cpu(cpu)

    answer = invoke(handler, "monitor")

    assert (answer["outcome"], answer["holdReason"]) == ("HOLD", "MISSING_DATA")
    assert "periods have CPU datapoints" in answer["reason"]
    assert desired() == 2


def test_monitor_reads_only_its_own_groups_cpu(handler: Any) -> None:
    create_group(desired=2)
    put_cpu([95.0, 95.0, 95.0], group="another-group")

    answer = invoke(handler, "monitor")

    assert answer["holdReason"] == "MISSING_DATA"


def test_monitor_holds_inside_the_cooldown_after_a_scaling_change(
    handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_group(min_size=1, max_size=6, desired=2)
    put_cpu([90.0, 90.0, 90.0])
    assert invoke(handler, "monitor")["after"] == 3

    handler.now = NOW + dt.timedelta(seconds=599)
    inside = invoke(handler, "monitor")
    handler.now = NOW + dt.timedelta(seconds=600)
    put_cpu([90.0, 90.0], last=LAST_COMPLETE + dt.timedelta(seconds=2 * PERIOD))  # still hot since
    after = invoke(handler, "monitor")

    assert (inside["outcome"], inside["holdReason"]) == ("HOLD", "COOLDOWN")
    assert "599s ago" in inside["reason"]
    assert (after["outcome"], after["before"], after["after"]) == ("SCALED", 3, 4)
    assert desired() == 4


def test_monitor_dry_run_changes_nothing_and_starts_no_cooldown(handler: Any) -> None:
    create_group(desired=2)
    put_cpu([90.0, 90.0, 90.0])

    first = invoke(handler, "monitor", {"dryRun": True})
    second = invoke(handler, "monitor", {"dryRun": True})

    assert first["outcome"] == second["outcome"] == "WOULD_SCALE"
    assert desired() == 2


def test_monitor_at_the_maximum_refuses_to_cross_it(handler: Any) -> None:
    create_group(min_size=1, max_size=2, desired=2)
    put_cpu([90.0, 90.0, 90.0])

    answer = invoke(handler, "monitor")

    assert (answer["outcome"], answer["direction"]) == ("REFUSED_AT_BOUND", "UP")
    assert desired() == 2


def test_monitor_of_a_missing_group_is_a_clear_error(handler: Any) -> None:
    answer = invoke(handler, "monitor")
    assert (answer["ok"], answer["code"]) == (False, "GROUP_NOT_FOUND")
