"""Rehearse a canary release on a running local cloud, and watch it live.

`make release STACK=booking` (or `python -m localcloud release booking`): the stack is packaged
again (what changed becomes new versions) and deployed through the local cloud's one deploy path
(`POST /_localcloud/deploy/<stack>`, what `localcloud deploy` calls). Every alias whose version
changed is a CodeDeploy deployment (localcloud/codedeploy.py) on a compressed clock
(`--minute-seconds`): the pre-traffic hook, the weights of the template's deployment configuration,
the group's alarms, the post-traffic hook. This module only reads AWS APIs on the edge while it
runs (CodeDeploy GetDeployment / GetDeploymentTarget, CloudWatch per-version metrics, alarm
states) and prints each change: weights, invocations and errors per version, alarm states, hooks,
the outcome; then each deployment's timeline.

Rehearsal switches (no code is edited): `--touch FUNCTION` publishes a new version of a function
whose code did not change (an environment variable `RELEASE_ID` in a copy of the package), and
`--bad-rate R` makes the new versions fail R of the calls their alias sends them (a fault rule scoped
to the version and the `Live` qualifier: smoke calls on the version itself pass, customers do not),
`--bad-hook` makes every call of the new versions fail (the pre-traffic hook sees it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud import REGION

DONE = ("Succeeded", "Failed", "Stopped")
TEMPLATE = "cloudformation-template-update-stack.json"
Out = Callable[[str], None]


@dataclass
class Timeline:
    """What one deployment went through, as the progress view saw it."""

    deployment_id: str
    function: str
    current_version: str = ""
    target_version: str = ""
    config: str = ""
    status: str = "Created"
    steps: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, target weight)
    alarms: list[tuple[float, str, str]] = field(default_factory=list)  # (seconds, alarm, state)
    hooks: list[tuple[float, str, str]] = field(default_factory=list)  # (seconds, hook, status)
    invocations: dict[str, tuple[float, float]] = field(default_factory=dict)  # version -> (invocations, errors)
    log: list[tuple[float, str]] = field(default_factory=list)  # every change above, in the order it happened
    error: str = ""
    rollback: str = ""
    finished_after: float = 0.0

    def summary(self) -> list[str]:
        short = self.function.rsplit("-", 1)[-1]
        lines = [
            f"{short}: {self.deployment_id} {self.config.removeprefix('CodeDeployDefault.')} "
            f"version {self.current_version} -> {self.target_version}"
        ]
        lines += [f"  +{t:5.1f}s  {text}" for t, text in self.log]
        per_version = ", ".join(
            f"v{v}: {n:.0f} calls, {e:.0f} errors" for v, (n, e) in sorted(self.invocations.items())
        )
        lines.append(f"  traffic through the alias: {per_version or 'none'}")
        outcome = f"  outcome after {self.finished_after:.1f}s: {self.status}"
        if self.error:
            outcome += f" ({self.error})"
        if self.rollback:
            outcome += f"; {self.rollback}"
        lines.append(outcome)
        return lines


class Watcher:
    """Reads one deployment's progress with the AWS APIs on the edge."""

    def __init__(self, edge_url: str, deployment_id: str, started: float) -> None:
        import boto3

        def client(service: str) -> Any:
            return boto3.client(
                service,
                endpoint_url=edge_url,
                region_name=REGION,
                aws_access_key_id="localcloud",
                aws_secret_access_key="localcloud",  # noqa: S106 - the local edge
            )

        self.codedeploy, self.cloudwatch = client("codedeploy"), client("cloudwatch")
        self.started = started
        self.since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
        info = self.codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        props = next(iter(json.loads(info["revision"]["appSpecContent"]["content"])["Resources"][0].values()))
        self.timeline = Timeline(
            deployment_id,
            props["Properties"]["Name"],
            str(props["Properties"]["CurrentVersion"]),
            str(props["Properties"]["TargetVersion"]),
            info["deploymentConfigName"],
        )
        group = self.codedeploy.get_deployment_group(
            applicationName=info["applicationName"], deploymentGroupName=info["deploymentGroupName"]
        )["deploymentGroupInfo"]
        self.alarm_names = [a["name"] for a in group["alarmConfiguration"]["alarms"]]
        self.alias = str(props["Properties"]["Alias"])
        self._weight: float | None = None
        self._alarms: dict[str, str] = {}
        self._hooks: dict[str, str] = {}

    def poll(self) -> list[str]:
        """Read the deployment once; the changes since the last poll, as progress lines."""
        now = time.monotonic() - self.started
        t = self.timeline
        changes = []
        info = self.codedeploy.get_deployment(deploymentId=t.deployment_id)["deploymentInfo"]
        target = self.codedeploy.get_deployment_target(deploymentId=t.deployment_id, targetId=f"{t.function}:x")
        lambda_target = target["deploymentTarget"]["lambdaTarget"]
        weight = float(lambda_target["lambdaFunctionInfo"]["targetVersionWeight"])
        hooks = {e["lifecycleEventName"]: e["status"] for e in lambda_target["lifecycleEvents"]}

        def hook(name: str) -> None:
            if name in hooks and self._hooks.get(name) != hooks[name]:
                self._hooks[name] = hooks[name]
                t.hooks.append((now, name, hooks[name]))
                changes.append(f"{name} hook {hooks[name]}")

        hook("BeforeAllowTraffic")  # in the order a deployment goes through them
        if weight != self._weight and (self._weight is not None or weight > 0):
            t.steps.append((now, weight))
            changes.append(f"weight {weight:.0%} to version {t.target_version}")
        self._weight = weight
        hook("AfterAllowTraffic")
        if self.alarm_names:
            for alarm in self.cloudwatch.describe_alarms(AlarmNames=self.alarm_names)["MetricAlarms"]:
                name, state = alarm["AlarmName"], alarm["StateValue"]
                if self._alarms.get(name, "OK") != state and not (name not in self._alarms and state != "ALARM"):
                    t.alarms.append((now, name, state))
                    changes.append(f"alarm {name} -> {state}")
                self._alarms[name] = state
        t.log += [(now, change) for change in changes]
        t.invocations = {v: self._traffic(v) for v in (t.current_version, t.target_version)}
        t.status = info["status"]
        if t.status in DONE:
            t.finished_after = now
            t.error = (info.get("errorInformation") or {}).get("message", "")
            t.rollback = (info.get("rollbackInfo") or {}).get("rollbackMessage", "")
        return changes

    def _traffic(self, version: str) -> tuple[float, float]:
        dims = [
            {"Name": "FunctionName", "Value": self.timeline.function},
            {"Name": "Resource", "Value": f"{self.timeline.function}:{self.alias}"},
            {"Name": "ExecutedVersion", "Value": version},
        ]
        totals = []
        for metric in ("Invocations", "Errors"):
            answer = self.cloudwatch.get_metric_statistics(
                Namespace="AWS/Lambda",
                MetricName=metric,
                Dimensions=dims,
                StartTime=self.since,
                EndTime=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5),
                Period=60,
                Statistics=["Sum"],
            )
            totals.append(sum(float(p["Sum"]) for p in answer["Datapoints"]))
        return totals[0], totals[1]


def touched_package(package_dir: Path, functions: list[str], into: Path) -> Path:
    """A copy of a stack's package in which each function of `functions` (short names) has a new
    `RELEASE_ID` environment variable: a new version with the same code (the rehearsal's change)."""
    into.mkdir(parents=True, exist_ok=True)
    for artifact in package_dir.iterdir():  # the same artifacts (links: the layer is not unpacked again)
        if artifact.is_file() and artifact.name != TEMPLATE:
            (into / artifact.name).symlink_to(artifact.resolve())
    template = json.loads((package_dir / TEMPLATE).read_text())
    release_id = uuid.uuid4().hex[:8]
    found = set()
    for resource in template["Resources"].values():
        props = resource.get("Properties") or {}
        name = str(props.get("FunctionName", ""))
        if resource["Type"] == "AWS::Lambda::Function" and name.rsplit("-", 1)[-1] in functions:
            props.setdefault("Environment", {}).setdefault("Variables", {})["RELEASE_ID"] = release_id
            found.add(name.rsplit("-", 1)[-1])
    missing = set(functions) - found
    if missing:
        raise ValueError(f"no function {sorted(missing)} in {package_dir}")
    (into / TEMPLATE).write_text(json.dumps(template))
    return into


def release(
    gateway_url: str,
    edge_url: str,
    stack: str,
    *,
    minute_seconds: float = 2.0,
    package_dir: Path | None = None,
    bad: dict[str, Any] | None = None,
    timeout: float = 600.0,
    out: Out = print,
    on_deployed: Callable[[], None] | None = None,
) -> list[Timeline]:
    """Deploy the stack through the local cloud's deploy path, watch every deployment it starts to its end
    (`on_deployed` runs once the stack is updated and its deployments started: e.g. start traffic)."""
    import requests

    started = time.monotonic()
    body: dict[str, Any] = {"minuteSeconds": minute_seconds}
    if package_dir is not None:
        body["packageDir"] = str(package_dir)
    if bad is not None:  # installed by the cloud on the new versions before any traffic moves
        body["versionFaults"] = bad
        out(f"rehearsal: the new versions crash ({json.dumps(bad)})")
    answer = requests.post(f"{gateway_url}/_localcloud/deploy/{stack}", json=body, timeout=900)
    if not answer.ok:
        raise RuntimeError(f"deploy of {stack} failed: {answer.text}")
    summary = answer.json()
    deployments = summary.get("deployments") or []
    out(f"deployed {stack} in {time.monotonic() - started:.1f}s: {len(deployments)} CodeDeploy deployment(s)")
    if not deployments:
        out("nothing to release: no shifted function has a new version")
        return []
    if on_deployed is not None:
        on_deployed()
    started = time.monotonic()  # the timeline counts from the deployments' start
    watchers = [Watcher(edge_url, d, started) for d in deployments]
    out(f"clock: a minute of the deployment configuration lasts {minute_seconds:g}s")
    watch(watchers, started, started + timeout, out)
    out("")
    out("timeline")
    for watcher in watchers:
        for line in watcher.timeline.summary():
            out(line)
    return [w.timeline for w in watchers]


def watch(watchers: list[Watcher], started: float, deadline: float, out: Out) -> None:
    """The live progress view: a line per change (weights, hooks, alarms) with each version's traffic."""
    while True:
        pending = False
        for watcher in watchers:
            t = watcher.timeline
            if t.status in DONE:
                continue
            name = t.function.rsplit("-", 1)[-1]
            for change in watcher.poll():
                traffic = "  ".join(f"v{v} {n:.0f}/{e:.0f}err" for v, (n, e) in sorted(t.invocations.items()))
                out(f"+{time.monotonic() - started:5.1f}s {name:<22} {change:<60} {traffic}")
            if t.status in DONE:
                out(f"+{time.monotonic() - started:5.1f}s {name:<22} {t.status} {t.error}")
            else:
                pending = True
        if not pending or time.monotonic() > deadline:
            return
        time.sleep(0.25)


def main(argv: list[str] | None = None, out: Out = print) -> int:
    from localcloud.cli import running
    from localcloud.packaging import package

    parser = argparse.ArgumentParser(prog="python -m localcloud release", description=__doc__.split("\n\n")[0])
    parser.add_argument("stack", help="a service stack, e.g. booking")
    parser.add_argument("--minute-seconds", type=float, default=2.0, help="seconds per minute of the deployment")
    parser.add_argument("--state-dir", type=Path, default=Path(".localcloud/state"), help="the running make local")
    parser.add_argument("--touch", action="append", default=[], metavar="FUNCTION", help="new version, same code")
    parser.add_argument("--bad-rate", type=float, default=0.0, help="new versions fail this share of alias calls")
    parser.add_argument("--bad-hook", action="store_true", help="new versions fail every call (hook too)")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    found = running(args.state_dir)
    if found is None:
        print("localcloud: no local cloud is running: start one with `make local`", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="release-") as scratch:
        package_dir = None
        if args.touch:
            package_dir = touched_package(package(args.stack, found.get("stage", "local")), args.touch, Path(scratch))
        bad = None
        if args.bad_hook:
            bad = {"rate": 1.0, "throughAlias": False}
        elif args.bad_rate:
            bad = {"rate": args.bad_rate, "throughAlias": True}
        timelines = release(
            found["gateway"],
            found["edge"],
            args.stack,
            minute_seconds=args.minute_seconds,
            package_dir=package_dir,
            bad=bad,
            timeout=args.timeout,
            out=out,
        )
    return 0 if all(t.status == "Succeeded" for t in timelines) else 3


if __name__ == "__main__":
    sys.exit(main())
