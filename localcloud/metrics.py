"""CloudWatch metrics and alarms on the local cloud.

What AWS does, and what this module does in its place (every figure lands in moto's CloudWatch
on the edge, readable with the CloudWatch API):
- CloudWatch Logs turns embedded-metric-format lines (`{"_aws": {"CloudWatchMetrics": ...}}`)
  of a function's log into metrics: `EmfShipper` follows every function's log file and calls
  `PutMetricData` with the directive's namespace, dimension sets, units and values.
- Lambda publishes `AWS/Lambda` Invocations, Errors, Duration per function: `lambda_metrics`
  (a runner observer). Throttles are never emitted: the local runner queues instead of throttling.
- Step Functions publishes `AWS/States` ExecutionsStarted/Succeeded/Failed/TimedOut/Aborted and
  ExecutionTime per state machine: the shipper reads finished executions (ListExecutions).
- SQS publishes `AWS/SQS` ApproximateNumberOfMessagesVisible per queue every minute: the shipper
  samples GetQueueAttributes.
- CloudWatch evaluates alarms: `evaluate_alarms` reads the alarms the deploy stored
  (`realize_alarm`, PutMetricAlarm), computes each one's datapoints over its evaluation window
  (single metric or metric math with + - * / and numbers), applies DatapointsToAlarm and
  TreatMissingData, sets the state (SetAlarmState) and publishes the alarm to its actions' topics
  on a change to ALARM. Percentile statistics (p99) are not evaluable here: moto has no percentiles.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import json
import math
import operator
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud import REGION
from localcloud.periodic import Periodic


def _client(service: str, edge_url: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=edge_url,
        region_name=REGION,
        aws_access_key_id="localcloud",
        aws_secret_access_key="localcloud",  # noqa: S106 - the local edge
    )


# -- embedded metric format ----------------------------------------------------------------------
def emf_metric_data(document: dict[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
    """One EMF log document -> (namespace, PutMetricData entries); None if it is not EMF.

    Several directives may share a document (one namespace each); this returns the first, which is
    what Powertools writes (one directive per flush).
    """
    meta = document.get("_aws")
    if not isinstance(meta, dict) or not isinstance(meta.get("CloudWatchMetrics"), list):
        return None
    stamp = dt.datetime.fromtimestamp(float(meta.get("Timestamp", time.time() * 1000)) / 1000, dt.UTC)
    for directive in meta["CloudWatchMetrics"]:
        namespace = directive.get("Namespace")
        if not isinstance(namespace, str):
            continue
        entries = []
        dimension_sets = directive.get("Dimensions") or [[]]
        for definition in directive.get("Metrics") or []:
            name = definition.get("Name")
            raw = document.get(name)
            values = raw if isinstance(raw, list) else [raw]
            numbers = [float(v) for v in values if isinstance(v, int | float)]
            if not numbers:
                continue
            for keys in dimension_sets:
                dimensions = [{"Name": k, "Value": str(document[k])} for k in keys if k in document]
                entries.append(
                    {
                        "MetricName": name,
                        "Dimensions": dimensions,
                        "Timestamp": stamp,
                        "Values": numbers,
                        "Counts": [1.0] * len(numbers),
                        "Unit": definition.get("Unit", "None"),
                    }
                )
        return namespace, entries
    return None


def put(cloudwatch: Any, namespace: str, entries: list[dict[str, Any]]) -> None:
    for start in range(0, len(entries), 20):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=entries[start : start + 20])


@dataclass
class _Followed:
    offset: int = 0
    partial: bytes = b""


class EmfShipper:
    """Follows the function logs (EMF -> metrics), samples queues, and counts finished executions."""

    def __init__(self, logs_dir: Path, edge_url: str, interval: float = 0.5) -> None:
        self.logs_dir = logs_dir
        self.edge_url = edge_url
        self.interval = interval
        self.shipped = 0
        self._files: dict[Path, _Followed] = {}
        self._seen_executions: set[str] = set()
        self._last_queue_sample = 0.0
        self._shipper = Periodic("localcloud-metrics", interval, self.ship_once)
        self._lock = threading.Lock()

    def start(self) -> None:
        self.cloudwatch = _client("cloudwatch", self.edge_url)
        self._states = _client("stepfunctions", self.edge_url)
        self._sqs = _client("sqs", self.edge_url)
        self._shipper.start()

    def stop(self) -> None:
        self._shipper.stop()

    def ship_once(self) -> int:
        """One pass (the thread calls it every interval; tests call it to flush): entries shipped."""
        with self._lock:
            shipped = self._ship_logs()
            shipped += self._ship_executions()
            if time.monotonic() - self._last_queue_sample >= 5:
                self._last_queue_sample = time.monotonic()
                shipped += self._ship_queues()
            self.shipped += shipped
            return shipped

    def _ship_logs(self) -> int:
        shipped = 0
        for path in sorted(self.logs_dir.glob("*.log")):
            followed = self._files.setdefault(path, _Followed())
            with path.open("rb") as log:
                log.seek(followed.offset)
                chunk = log.read()
            followed.offset += len(chunk)
            *lines, followed.partial = (followed.partial + chunk).split(b"\n")
            for line in lines:
                if b'"_aws"' not in line:
                    continue
                try:
                    parsed = emf_metric_data(json.loads(line))
                except ValueError:
                    continue
                if parsed and parsed[1]:
                    put(self.cloudwatch, *parsed)
                    shipped += len(parsed[1])
        return shipped

    def _ship_executions(self) -> int:
        states = self._states
        shipped = 0
        for machine in states.list_state_machines().get("stateMachines", []):
            arn = machine["stateMachineArn"]
            entries = []
            for execution in states.list_executions(stateMachineArn=arn).get("executions", []):
                if execution["status"] == "RUNNING" or execution["executionArn"] in self._seen_executions:
                    continue
                self._seen_executions.add(execution["executionArn"])
                stopped, started = execution["stopDate"], execution["startDate"]
                dims = [{"Name": "StateMachineArn", "Value": arn}]
                status = {"SUCCEEDED": "Succeeded", "FAILED": "Failed", "TIMED_OUT": "TimedOut"}
                status_name = status.get(execution["status"], "Aborted")
                entries += [
                    {"MetricName": "ExecutionsStarted", "Dimensions": dims, "Timestamp": started, "Value": 1.0},
                    {"MetricName": f"Executions{status_name}", "Dimensions": dims, "Timestamp": stopped, "Value": 1.0},
                    {
                        "MetricName": "ExecutionTime",
                        "Dimensions": dims,
                        "Timestamp": stopped,
                        "Value": (stopped - started).total_seconds() * 1000,
                        "Unit": "Milliseconds",
                    },
                ]
            if entries:
                put(self.cloudwatch, "AWS/States", entries)
                shipped += len(entries)
        return shipped

    def _ship_queues(self) -> int:
        sqs = self._sqs
        entries = []
        now = dt.datetime.now(dt.UTC)
        for url in sqs.list_queues().get("QueueUrls", []):
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
            visible = float(attributes["Attributes"].get("ApproximateNumberOfMessages", 0))
            dims = [{"Name": "QueueName", "Value": url.rsplit("/", 1)[-1]}]
            entries.append(
                {
                    "MetricName": "ApproximateNumberOfMessagesVisible",
                    "Dimensions": dims,
                    "Timestamp": now,
                    "Value": visible,
                }
            )
        if entries:
            put(self.cloudwatch, "AWS/SQS", entries)
        return len(entries)


def lambda_metrics(edge_url: str) -> Callable[..., None]:
    """A runner observer: AWS/Lambda Invocations, Errors and Duration of every invocation, per function and,
    as Lambda publishes them, per alias or version (`Resource` = `fn:qualifier`) and, through an alias, per
    version that ran (`Resource` + `ExecutedVersion`): what a canary's alarms watch."""
    cloudwatch = _client("cloudwatch", edge_url)

    def observe(
        function_name: str,
        failed: bool,
        duration_ms: float,
        *,
        resource: str | None = None,
        executed_version: str = "$LATEST",
    ) -> None:
        now = dt.datetime.now(dt.UTC)
        dimension_sets = [[{"Name": "FunctionName", "Value": function_name}]]
        if resource is not None:
            dimension_sets.append([*dimension_sets[0], {"Name": "Resource", "Value": resource}])
            if not resource.rsplit(":", 1)[1].isdigit():  # through an alias: which version ran
                dimension_sets.append([*dimension_sets[1], {"Name": "ExecutedVersion", "Value": executed_version}])
        entries = []
        for dims in dimension_sets:
            entries += [
                {"MetricName": "Invocations", "Dimensions": dims, "Timestamp": now, "Value": 1.0, "Unit": "Count"},
                {"MetricName": "Errors", "Dimensions": dims, "Timestamp": now, "Value": float(failed), "Unit": "Count"},
                {
                    "MetricName": "Duration",
                    "Dimensions": dims,
                    "Timestamp": now,
                    "Value": duration_ms,
                    "Unit": "Milliseconds",
                },
            ]
        put(cloudwatch, "AWS/Lambda", entries)

    return observe


# -- alarms ----------------------------------------------------------------------------------------
ALARM_PROPERTIES = (
    "AlarmName",
    "AlarmDescription",
    "ActionsEnabled",
    "AlarmActions",
    "OKActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
)


def realize_alarm(deployer: Any, logical_id: str, props: dict[str, Any], prev: Any, resolver: Any) -> Any:
    """AWS::CloudWatch::Alarm -> PutMetricAlarm on the edge (stored; `evaluate_alarms` evaluates it)."""
    missing = [k for k in ("EvaluationPeriods", "ComparisonOperator") if k not in props]
    if missing or not ("MetricName" in props or "Metrics" in props):
        # CloudFormation refuses such an alarm: fail the deploy the same way
        raise ValueError(f"AWS::CloudWatch::Alarm {logical_id}: missing {missing or ['MetricName or Metrics']}")
    request = {k: props[k] for k in ALARM_PROPERTIES if k in props}
    request.setdefault("AlarmName", f"{resolver.pseudo['AWS::StackName']}-{logical_id}")
    request["Threshold"] = float(request.get("Threshold", 0))
    for key in ("EvaluationPeriods", "DatapointsToAlarm", "Period"):
        if key in request:
            request[key] = int(request[key])
    for query in request.get("Metrics", []):
        if "MetricStat" in query:
            query["MetricStat"]["Period"] = int(query["MetricStat"]["Period"])
    deployer.client("cloudwatch").put_metric_alarm(**request)
    name = request["AlarmName"]
    arn = f"arn:aws:cloudwatch:{REGION}:{resolver.pseudo['AWS::AccountId']}:alarm:{name}"
    return name, {"Arn": arn}


_OPERATORS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: lambda a, b: a / b if b else float("nan"),
}


class NotEvaluable(ValueError):
    """An alarm this local CloudWatch cannot evaluate (percentiles, math functions)."""


def _math(expression: str, values: dict[str, float | None]) -> float | None:
    def walk(node: ast.AST) -> float | None:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name) and node.id in values:
            return values[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            left, right = walk(node.left), walk(node.right)
            if left is None and right is None:
                return None
            return _OPERATORS[type(node.op)](left or 0.0, right or 0.0)
        raise NotEvaluable(f"metric math not evaluated locally: {expression}")

    return walk(ast.parse(expression, mode="eval"))


@dataclass
class AlarmResult:
    name: str
    state: str  # OK, ALARM, INSUFFICIENT_DATA, or NOT_EVALUATED
    datapoints: list[float | None] = field(default_factory=list)
    reason: str = ""


def _statistic(
    cloudwatch: Any, metric: dict[str, Any], stat: str, period: int, window: tuple[dt.datetime, dt.datetime]
) -> dict[dt.datetime, float]:
    start, end = window
    if stat.startswith("p"):
        raise NotEvaluable(f"percentile {stat}: moto has no percentiles")
    answer = cloudwatch.get_metric_statistics(
        Namespace=metric["Namespace"],
        MetricName=metric["MetricName"],
        Dimensions=metric.get("Dimensions", []),
        StartTime=start,
        EndTime=end,
        Period=period,
        Statistics=[stat],
    )
    return {point["Timestamp"]: float(point[stat]) for point in answer["Datapoints"]}


def _buckets(period: int, count: int, now: dt.datetime) -> list[dt.datetime]:
    """Start of each evaluated period; the last one ends after `now` (whole seconds, as moto filters)."""
    end = now.replace(microsecond=0) + dt.timedelta(seconds=1)
    return [end - dt.timedelta(seconds=period * (count - i)) for i in range(count)]


def _near(series: dict[dt.datetime, float], start: dt.datetime, period: int) -> float | None:
    hits = [
        v for t, v in series.items() if start <= t.replace(tzinfo=start.tzinfo) < start + dt.timedelta(seconds=period)
    ]
    return sum(hits) if hits else None


def alarm_datapoints(
    cloudwatch: Any, alarm: dict[str, Any], now: dt.datetime, period_scale: float = 1.0
) -> list[float | None]:
    """The alarm's value in each of its last EvaluationPeriods periods (None = missing); `period_scale`
    compresses the clock (a release rehearsal: 60 s periods as 2 s with 1/30)."""
    count = int(alarm["EvaluationPeriods"])
    if alarm.get("MetricName"):
        period = max(1, round(int(alarm["Period"]) * period_scale))
        stat = alarm.get("Statistic") or alarm.get("ExtendedStatistic") or "Sum"
        starts = _buckets(period, count, now)
        metric: dict[str, Any] = {k: alarm[k] for k in ("Namespace", "MetricName", "Dimensions") if k in alarm}
        single = _statistic(cloudwatch, metric, stat, period, (starts[0], starts[-1] + dt.timedelta(seconds=period)))
        return [_near(single, s, period) for s in starts]
    queries = alarm.get("Metrics") or []
    stats = [q for q in queries if "MetricStat" in q]
    if not stats:
        raise NotEvaluable("no metric")
    period = max(1, round(int(stats[0]["MetricStat"]["Period"]) * period_scale))
    starts = _buckets(period, count, now)
    series = {
        q["Id"]: _statistic(
            cloudwatch,
            q["MetricStat"]["Metric"],
            q["MetricStat"]["Stat"],
            period,
            (starts[0], starts[-1] + dt.timedelta(seconds=period)),
        )
        for q in stats
    }
    returned = next((q for q in queries if q.get("ReturnData", True)), None)
    if returned is None:
        raise NotEvaluable("no query returns data")
    points: list[float | None] = []
    for start in starts:
        values = {qid: _near(s, start, period) for qid, s in series.items()}
        value = values[returned["Id"]] if "MetricStat" in returned else _math(returned["Expression"], values)
        points.append(None if value is None or math.isnan(value) else value)  # x / 0 gives no datapoint
    return points


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": operator.ge,
    "GreaterThanThreshold": operator.gt,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


def decide(alarm: dict[str, Any], points: list[float | None]) -> tuple[str, str]:
    """CloudWatch's M-out-of-N rule with TreatMissingData."""
    compare = _COMPARE[alarm["ComparisonOperator"]]
    threshold = float(alarm["Threshold"])
    needed = int(alarm.get("DatapointsToAlarm") or alarm["EvaluationPeriods"])
    missing = alarm.get("TreatMissingData", "missing")
    breaching = 0
    present = 0
    for value in points:
        if value is None:
            if missing == "breaching":
                breaching += 1
            elif missing == "notBreaching":
                present += 1
            continue
        present += 1
        breaching += compare(value, threshold)
    if breaching >= needed:
        return "ALARM", f"{breaching} of {len(points)} datapoints breached {threshold}"
    if present == 0 and missing in ("missing", "ignore"):
        return "INSUFFICIENT_DATA", "no datapoints"
    return "OK", f"{breaching} of {len(points)} datapoints breached {threshold} ({needed} needed)"


def evaluate_alarms(
    edge_url: str,
    now: dt.datetime | None = None,
    *,
    act: bool = True,
    names: Iterable[str] | None = None,
    period_scale: float = 1.0,
) -> list[AlarmResult]:
    """Evaluate every stored alarm (or those `names`) now; set its state and notify its topics on a change
    to ALARM."""
    cloudwatch = _client("cloudwatch", edge_url)
    sns = _client("sns", edge_url)
    moment = now or dt.datetime.now(dt.UTC)
    results = []
    wanted = set(names) if names is not None else None
    for alarm in _all_alarms(cloudwatch):
        name = alarm["AlarmName"]
        if wanted is not None and name not in wanted:
            continue
        try:
            points = alarm_datapoints(cloudwatch, alarm, moment, period_scale)
        except NotEvaluable as exc:
            results.append(AlarmResult(name, "NOT_EVALUATED", reason=str(exc)))
            continue
        state, reason = decide(alarm, points)
        results.append(AlarmResult(name, state, points, reason))
        if act and state != alarm.get("StateValue"):
            cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)
            if state == "ALARM" and alarm.get("ActionsEnabled", True):
                for topic in alarm.get("AlarmActions", []):
                    if ":sns:" in topic:
                        message = {"AlarmName": name, "NewStateValue": state, "NewStateReason": reason}
                        sns.publish(TopicArn=topic, Subject=f"ALARM: {name}", Message=json.dumps(message))
    return results


def _all_alarms(cloudwatch: Any) -> Iterable[dict[str, Any]]:
    for page in cloudwatch.get_paginator("describe_alarms").paginate():
        yield from page.get("MetricAlarms", [])


# -- reading metrics back --------------------------------------------------------------------------
def metric_sums(edge_url: str, namespace_prefix: str, minutes: int = 60) -> list[tuple[str, str, str, float]]:
    """(namespace, metric, dimensions, sum over the window) of every metric under a namespace prefix."""
    cloudwatch = _client("cloudwatch", edge_url)
    end = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
    start = end - dt.timedelta(minutes=minutes)
    rows = []
    # a whole namespace is asked for by name: moto's ListMetrics de-duplicates every datapoint it keeps,
    # which after a long session (every invocation's AWS/Lambda points) took over a minute unfiltered
    exact = {} if namespace_prefix.endswith("/") else {"Namespace": namespace_prefix}
    for page in cloudwatch.get_paginator("list_metrics").paginate(**exact):
        for metric in page["Metrics"]:
            if not metric["Namespace"].startswith(namespace_prefix):
                continue
            answer = cloudwatch.get_metric_statistics(
                Namespace=metric["Namespace"],
                MetricName=metric["MetricName"],
                Dimensions=metric.get("Dimensions", []),
                StartTime=start,
                EndTime=end,
                Period=minutes * 60 + 120,
                Statistics=["Sum"],
            )
            total = sum(p["Sum"] for p in answer["Datapoints"])
            dims = ",".join(sorted(f"{d['Name']}={d['Value']}" for d in metric.get("Dimensions", [])))
            rows.append((metric["Namespace"], metric["MetricName"], dims, total))
    return sorted(set(rows))


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> int:
    from botocore.exceptions import EndpointConnectionError

    try:
        return _main(argv, out)
    except EndpointConnectionError as exc:
        print(f"no local cloud answering ({exc}): start one with `make local` (or pass --endpoint)", file=sys.stderr)
        return 2


def _main(argv: list[str] | None, out: Callable[[str], None]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localcloud.metrics", description="metrics and alarms of a running local cloud"
    )
    parser.add_argument(
        "--namespace", default="Airline/", help="namespace prefix (default Airline/; AWS/ for service metrics)"
    )
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--alarms", action="store_true", help="evaluate the stored alarms now and print their states")
    parser.add_argument("--endpoint", default=os.environ.get("LOCALCLOUD_EDGE", "http://127.0.0.1:4566"))
    args = parser.parse_args(argv)
    if args.alarms:
        for result in evaluate_alarms(args.endpoint):
            points = " ".join("-" if p is None else f"{p:g}" for p in result.datapoints)
            out(f"{result.state:17} {result.name:55} [{points}] {result.reason}")
        return 0
    rows = metric_sums(args.endpoint, args.namespace, args.minutes)
    width = max((len(m) for _, m, _, _ in rows), default=10)
    for namespace, metric, dims, total in rows:
        out(f"{namespace:16} {metric:{width}} {total:12g}  {dims}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
