"""Auto Scaling and CloudWatch access: the only autoscaling module that touches boto3."""

from __future__ import annotations

import datetime as dt
from typing import Any

from botocore.exceptions import ClientError

from handlers.autoscaling.models import GroupState
from handlers.shared.aws import client
from handlers.shared.clock import parse_timestamp
from handlers.shared.errors import Conflict, DomainError, NotFound

# Written by these functions on every change they make. The group's own scaling
# activities are the primary record of its last change; the tag also covers
# changes that start no activity (a desired capacity equal to the running count)
# and backends that keep no activity history.
LAST_SCALED_TAG = "airline:last-scaled-at"


class GroupNotFound(NotFound):
    code = "GROUP_NOT_FOUND"


class ScalingUnavailable(DomainError):
    status = 503
    code = "SCALING_UNAVAILABLE"


class AutoScalingGroups:
    def __init__(self, autoscaling: Any | None = None) -> None:
        self._autoscaling = autoscaling

    @property
    def _client(self) -> Any:
        if self._autoscaling is None:
            self._autoscaling = client("autoscaling")
        return self._autoscaling

    def describe(self, name: str) -> GroupState:
        try:
            groups = self._client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
            if not groups:
                raise GroupNotFound(f"Auto Scaling group {name} does not exist (is the hybrid tier deployed here?)")
            activities = self._client.describe_scaling_activities(AutoScalingGroupName=name, MaxRecords=1)
        except ClientError as exc:
            raise ScalingUnavailable(f"Auto Scaling refused to describe group {name}: {_code(exc)}") from exc
        group = groups[0]
        last = [a["StartTime"] for a in activities.get("Activities", []) if a.get("StartTime")]
        tagged = [_parse_time(t["Value"]) for t in group.get("Tags", []) if t.get("Key") == LAST_SCALED_TAG]
        moments = [m for m in (*last, *tagged) if m is not None]
        return GroupState(
            name=group["AutoScalingGroupName"],
            arn=group["AutoScalingGroupARN"],
            min_size=group["MinSize"],
            max_size=group["MaxSize"],
            desired=group["DesiredCapacity"],
            last_activity_at=max(moments) if moments else None,
        )

    def set_desired(self, group: GroupState, desired: int, at: dt.datetime) -> None:
        try:
            self._client.set_desired_capacity(
                AutoScalingGroupName=group.name, DesiredCapacity=desired, HonorCooldown=False
            )
            self._client.create_or_update_tags(
                Tags=[
                    {
                        "ResourceId": group.name,
                        "ResourceType": "auto-scaling-group",
                        "Key": LAST_SCALED_TAG,
                        "Value": at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "PropagateAtLaunch": False,
                    }
                ]
            )
        except ClientError as exc:
            if _code(exc) == "ScalingActivityInProgress":
                raise Conflict(f"Group {group.name} is already scaling; try again later") from exc
            raise ScalingUnavailable(f"Auto Scaling refused to change group {group.name}: {_code(exc)}") from exc


class CloudWatchCpu:
    def __init__(self, cloudwatch: Any | None = None) -> None:
        self._cloudwatch = cloudwatch

    @property
    def _client(self) -> Any:
        if self._cloudwatch is None:
            self._cloudwatch = client("cloudwatch")
        return self._cloudwatch

    def average_cpu(
        self, group: str, start: dt.datetime, end: dt.datetime, period_seconds: int
    ) -> dict[dt.datetime, float]:
        """Average CPUUtilization of the group's instances per period, keyed by period start (UTC)."""
        query = {
            "Id": "cpu",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/EC2",
                    "MetricName": "CPUUtilization",
                    "Dimensions": [{"Name": "AutoScalingGroupName", "Value": group}],
                },
                "Period": period_seconds,
                "Stat": "Average",
            },
            "ReturnData": True,
        }
        try:
            answer = self._client.get_metric_data(
                MetricDataQueries=[query], StartTime=start, EndTime=end, ScanBy="TimestampAscending"
            )
        except ClientError as exc:
            raise ScalingUnavailable(f"CloudWatch refused the CPU query for {group}: {_code(exc)}") from exc
        averages: dict[dt.datetime, float] = {}
        for result in answer.get("MetricDataResults", []):
            for moment, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
                averages[moment.astimezone(dt.UTC)] = float(value)
        return averages


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _parse_time(text: str) -> dt.datetime | None:
    try:
        return parse_timestamp(text)
    except ValueError:
        return None
