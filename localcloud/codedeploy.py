"""CodeDeploy for Lambda on the local cloud: the APIs moto lacks, and deployments that really shift.

What AWS does, and what this module does in its place:
- CloudFormation updates an alias whose `UpdatePolicy` is `CodeDeployLambdaAliasUpdate` by creating a
  CodeDeploy deployment (AppSpec: function, alias, current and target version, hooks) in the alias's
  deployment group; `localcloud/deploy.py` calls `create_deployment` the same way.
- A deployment runs the `BeforeAllowTraffic` hook function (asynchronously, with
  `{DeploymentId, LifecycleEventHookExecutionId}`) and waits for its
  `PutLifecycleEventHookExecutionStatus`; `Failed` (or no answer within the hour) fails the deployment
  before any traffic moved. Then it shifts the alias's weights as the deployment configuration says
  (`CodeDeployDefault.LambdaCanary10Percent5Minutes`, `...Linear10PercentEvery1Minute`,
  `...AllAtOnce`: the runner routes each invocation by them), watching the group's alarms
  (`localcloud.metrics.evaluate_alarms`, the one evaluator) all along: an alarm in ALARM stops the
  deployment and rolls the alias back to the current version. At 100 % it runs the `AfterAllowTraffic`
  hook the same way; its failure rolls back too.
- The clock is compressed: a minute of the deployment configuration (and of the alarms' periods and
  the hooks' hour) lasts `minute_seconds` seconds (`localcloud release --minute-seconds`).
- Served at the edge in CodeDeploy's JSON protocol (`X-Amz-Target: CodeDeploy_20141006.<Operation>`):
  CreateDeployment, GetDeployment, ListDeployments, StopDeployment, PutLifecycleEventHookExecutionStatus,
  ListDeploymentTargets, GetDeploymentTarget, GetApplication, GetDeploymentGroup, ListApplications,
  ListDeploymentGroups; errors as CodeDeploy names them (`DeploymentDoesNotExistException`, ...).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from localcloud.runner import AliasRoute, Runner

TARGET_PREFIX = "CodeDeploy_20141006"
CONFIG = re.compile(
    r"^CodeDeployDefault\.Lambda(?:(?P<all>AllAtOnce)|Canary(?P<cp>\d+)Percent(?P<cm>\d+)Minutes?"
    r"|Linear(?P<lp>\d+)PercentEvery(?P<lm>\d+)Minutes?)$"
)
HOOK_HOUR_MINUTES = 60  # a hook has an hour to report
log = logging.getLogger("localcloud.codedeploy")


class CodeDeployError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Step:
    weight: float  # the target version's share after this step (0..1)
    wait_minutes: float  # how long traffic stays at that weight before the next step


def traffic_steps(config_name: str) -> list[Step]:
    """The weights a deployment configuration goes through, each with its bake time."""
    match = CONFIG.match(config_name)
    if match is None:
        raise CodeDeployError("DeploymentConfigDoesNotExistException", f"No deployment config {config_name}")
    if match["all"]:
        return [Step(1.0, 0)]
    if match["cp"]:
        return [Step(int(match["cp"]) / 100, int(match["cm"])), Step(1.0, 0)]
    share, minutes = int(match["lp"]) / 100, int(match["lm"])
    steps, weight = [], 0.0
    while weight < 1.0 - 1e-9:
        weight = min(1.0, round(weight + share, 6))
        steps.append(Step(weight, minutes if weight < 1.0 else 0))
    return steps


@dataclass
class DeploymentGroup:
    application: str
    name: str
    config_name: str
    alarms: list[str] = field(default_factory=list)
    rollback_events: list[str] = field(default_factory=list)
    service_role: str = ""


@dataclass
class Hook:
    event: str  # BeforeAllowTraffic | AfterAllowTraffic
    function: str
    execution_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: str = "Pending"  # Pending, InProgress, Succeeded, Failed


@dataclass
class Deployment:
    id: str
    group: DeploymentGroup
    function: str
    alias: str
    current_version: str
    target_version: str
    hooks: dict[str, str]  # lifecycle event -> hook function
    appspec: dict[str, Any]
    status: str = "Created"  # Created, InProgress, Succeeded, Failed, Stopped
    created: float = field(default_factory=time.time)
    completed: float | None = None
    weight: float = 0.0
    error: dict[str, str] | None = None
    rollback: str | None = None
    lifecycle: dict[str, Hook] = field(default_factory=dict)  # by execution id
    events: list[dict[str, Any]] = field(default_factory=list)  # the timeline
    stop_requested: bool = False
    alarm_states: dict[str, str] = field(default_factory=dict)

    def record(self, what: str, **details: Any) -> None:
        self.events.append({"at": time.time(), "event": what, **details})


class CodeDeploy:
    """Deployment groups from the templates, deployments run on threads, the API served at the edge."""

    def __init__(
        self,
        runner: Runner,
        invoke: Callable[[str, Any], Any],
        edge_url: str,
        *,
        region: str,
        account: str,
        minute_seconds: float = 3.0,
    ) -> None:
        self.runner = runner
        self.invoke = invoke  # invoke a function by name (the runner's, with the platform's identity)
        self.edge_url = edge_url
        self.region = region
        self.account = account
        self.minute_seconds = minute_seconds
        self.applications: dict[str, float] = {}  # name -> created
        self.groups: dict[tuple[str, str], DeploymentGroup] = {}
        self.deployments: dict[str, Deployment] = {}
        self._lock = threading.Lock()
        self._hook_reported = threading.Condition(self._lock)
        self._threads: list[threading.Thread] = []
        self.evaluate: Callable[[list[str], float], dict[str, str]] = self._evaluate_alarms

    # -- the template's resources -----------------------------------------------------------------
    def put_application(self, name: str) -> None:
        with self._lock:
            self.applications.setdefault(name, time.time())

    def put_group(self, group: DeploymentGroup) -> None:
        traffic_steps(group.config_name)  # an unknown configuration fails the deploy, as on AWS
        with self._lock:
            self.groups[(group.application, group.name)] = group

    def group_arn(self, group: DeploymentGroup) -> str:
        return f"arn:aws:codedeploy:{self.region}:{self.account}:deploymentgroup:{group.application}/{group.name}"

    # -- deployments ------------------------------------------------------------------------------
    def create_deployment(
        self, application: str, group_name: str, appspec: dict[str, Any], *, start: bool = True
    ) -> str:
        """A deployment of the group; it runs now, or at `start` (the deployer starts what a stack update
        created once the update is done, as CloudFormation hands the alias to CodeDeploy)."""
        group = self.groups.get((application, group_name))
        if group is None:
            raise CodeDeployError("DeploymentGroupDoesNotExistException", f"No deployment group {group_name}")
        resources = appspec.get("Resources") or []
        if len(resources) != 1:
            raise CodeDeployError("InvalidRevisionException", "a Lambda AppSpec names exactly one function")
        props = next(iter(resources[0].values()))["Properties"]
        hooks = {k: v for hook in appspec.get("Hooks") or [] for k, v in hook.items()}
        deployment = Deployment(
            id=f"d-{uuid.uuid4().hex[:9].upper()}",
            group=group,
            function=str(props["Name"]),
            alias=str(props["Alias"]),
            current_version=str(props["CurrentVersion"]),
            target_version=str(props["TargetVersion"]),
            hooks=hooks,
            appspec=appspec,
        )
        with self._lock:
            for other in self.deployments.values():
                if other.group is group and other.status in ("Created", "InProgress"):
                    raise CodeDeployError(
                        "DeploymentLimitExceededException", f"The deployment group already has {other.id} in progress"
                    )
            self.deployments[deployment.id] = deployment
        deployment.record("created", current=deployment.current_version, target=deployment.target_version)
        if start:
            self.start(deployment.id)
        return deployment.id

    def start(self, deployment_id: str) -> None:
        deployment = self.deployments[deployment_id]
        thread = threading.Thread(target=self._run, args=(deployment,), name=f"codedeploy-{deployment_id}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _run(self, d: Deployment) -> None:
        d.status = "InProgress"
        try:
            if not self._hook(d, "BeforeAllowTraffic"):
                self._fail(d, "Failed", "HOOK_EXECUTION_FAILURE", "the BeforeAllowTraffic hook reported Failed")
                return
            for step in traffic_steps(d.group.config_name):
                self._shift(d, step.weight)
                alarm = self._watch(d, step.wait_minutes * self.minute_seconds)
                if alarm is not None:
                    self._fail(d, "Stopped", "ALARM_ACTIVE", f"alarm {alarm} is in ALARM", rollback=True)
                    return
                if d.stop_requested:
                    self._fail(d, "Stopped", "DEPLOYMENT_STOPPED", "stopped on request", rollback=True)
                    return
            if not self._hook(d, "AfterAllowTraffic"):
                alarm = next((a for a, state in d.alarm_states.items() if state == "ALARM"), None)
                if alarm is not None:
                    self._fail(d, "Stopped", "ALARM_ACTIVE", f"alarm {alarm} is in ALARM", rollback=True)
                else:
                    self._fail(
                        d, "Failed", "HOOK_EXECUTION_FAILURE", "the AfterAllowTraffic hook reported Failed", True
                    )
                return
            self.runner.update_alias(d.function, d.alias, AliasRoute(d.target_version))
            d.status, d.completed = "Succeeded", time.time()
            d.record("succeeded")
        except Exception as exc:
            self._fail(d, "Failed", "INTERNAL_ERROR", f"{type(exc).__name__}: {exc}", rollback=True)

    def _shift(self, d: Deployment, weight: float) -> None:
        route = (
            AliasRoute(d.target_version) if weight >= 1.0 else AliasRoute(d.current_version, d.target_version, weight)
        )
        self.runner.update_alias(d.function, d.alias, route)
        d.weight = weight
        d.record("shifted", weight=weight)

    def _watch(self, d: Deployment, seconds: float) -> str | None:
        """Evaluate the group's alarms until `seconds` passed (at least once); the first in ALARM, if any."""
        deadline = time.monotonic() + seconds
        tick = max(0.25, min(1.0, self.minute_seconds / 4))
        while True:
            alarm = self._alarm_on(d)
            if alarm is not None:
                return alarm
            if d.stop_requested or time.monotonic() >= deadline:
                return None
            time.sleep(min(tick, max(0.0, deadline - time.monotonic())))

    def _evaluate_alarms(self, names: list[str], period_scale: float) -> dict[str, str]:
        from localcloud.metrics import evaluate_alarms

        results = evaluate_alarms(self.edge_url, names=names, period_scale=period_scale)
        return {r.name: r.state for r in results}

    def _hook(self, d: Deployment, event: str) -> bool:
        function = d.hooks.get(event)
        if not function:
            return True
        hook = Hook(event, function)
        with self._lock:
            d.lifecycle[hook.execution_id] = hook
            hook.status = "InProgress"
        d.record("hook", hook=event, function=function, status="InProgress")
        payload = {"DeploymentId": d.id, "LifecycleEventHookExecutionId": hook.execution_id}
        threading.Thread(target=self._invoke_hook, args=(function, payload), daemon=True).start()
        deadline = time.monotonic() + HOOK_HOUR_MINUTES * self.minute_seconds
        tick = max(0.25, min(1.0, self.minute_seconds / 4))
        while True:
            with self._hook_reported:
                if hook.status == "InProgress" and time.monotonic() < deadline:
                    self._hook_reported.wait(min(tick, max(0.0, deadline - time.monotonic())))
                if hook.status != "InProgress":
                    break
                if time.monotonic() >= deadline:
                    hook.status = "Failed"  # no answer within the hour
                    break
            if event == "AfterAllowTraffic" and self._alarm_on(d) is not None:  # traffic is on: still watched
                hook.status = "Failed"
                break
        d.record("hook", hook=event, function=function, status=hook.status)
        return hook.status == "Succeeded"

    def _alarm_on(self, d: Deployment) -> str | None:
        """The first of the group's alarms in ALARM now (transitions recorded), if any."""
        if not d.group.alarms:
            return None
        for name, state in self.evaluate(d.group.alarms, self.minute_seconds / 60).items():
            if d.alarm_states.get(name) != state:
                d.record("alarm", alarm=name, state=state)
            d.alarm_states[name] = state
            if state == "ALARM":
                return name
        return None

    def _invoke_hook(self, function: str, payload: dict[str, Any]) -> None:
        """CodeDeploy invokes the hook asynchronously: Lambda retries a failed event invocation twice."""
        for _ in range(3):
            try:
                answer = self.invoke(function, payload)
            except Exception as exc:  # throttled or gone: Lambda's async retry
                log.warning("hook %s not invoked (%s): retrying", function, exc)
                continue
            if getattr(answer, "function_error", None) is None:
                return

    def _fail(self, d: Deployment, status: str, code: str, message: str, rollback: bool = False) -> None:
        if rollback:
            self.runner.update_alias(d.function, d.alias, AliasRoute(d.current_version))
            d.weight = 0.0
            d.rollback = f"rolled back to version {d.current_version}"
            d.record("rolled back", version=d.current_version)
        d.error = {"code": code, "message": message}
        d.status, d.completed = status, time.time()
        d.record(status.lower(), code=code, message=message)

    def stop(self) -> None:
        for d in list(self.deployments.values()):
            d.stop_requested = True

    # -- the API at the edge ------------------------------------------------------------------------
    def resource_of(self, operation: str, fields: dict[str, Any]) -> str:
        """The IAM resource of a call: the deployment group it acts on ("*" when none)."""
        deployment = self.deployments.get(str(fields.get("deploymentId", "")))
        if deployment is not None:
            return self.group_arn(deployment.group)
        key = (str(fields.get("applicationName", "")), str(fields.get("deploymentGroupName", "")))
        group = self.groups.get(key)
        return self.group_arn(group) if group is not None else "*"

    def handle(self, operation: str, body: bytes) -> tuple[int, bytes]:
        try:
            fields = json.loads(body or b"{}")
            method = getattr(self, f"_api_{operation}", None)
            if method is None:
                raise CodeDeployError("UnknownOperationException", f"{operation} is not served locally")
            answer: dict[str, Any] = method(fields)
            return 200, json.dumps(answer, default=_json_default).encode()
        except CodeDeployError as exc:
            return 400, json.dumps({"__type": exc.code, "message": exc.message}).encode()
        except (ValueError, KeyError, TypeError) as exc:
            return 400, json.dumps({"__type": "InvalidInputException", "message": str(exc)}).encode()

    def _deployment(self, fields: dict[str, Any]) -> Deployment:
        deployment_id = fields.get("deploymentId")
        if not deployment_id:
            raise CodeDeployError("DeploymentIdRequiredException", "deploymentId is required")
        deployment = self.deployments.get(str(deployment_id))
        if deployment is None:
            raise CodeDeployError("DeploymentDoesNotExistException", f"The deployment {deployment_id} does not exist")
        return deployment

    def _api_CreateDeployment(self, f: dict[str, Any]) -> dict[str, Any]:
        revision = f.get("revision") or {}
        if revision.get("revisionType") != "AppSpecContent":
            raise CodeDeployError("InvalidRevisionException", "a Lambda deployment takes an AppSpecContent revision")
        content = revision["appSpecContent"]["content"]
        appspec = json.loads(content)
        return {"deploymentId": self.create_deployment(f["applicationName"], f["deploymentGroupName"], appspec)}

    def _api_GetDeployment(self, f: dict[str, Any]) -> dict[str, Any]:
        d = self._deployment(f)
        info: dict[str, Any] = {
            "applicationName": d.group.application,
            "deploymentGroupName": d.group.name,
            "deploymentConfigName": d.group.config_name,
            "deploymentId": d.id,
            "status": d.status,
            "computePlatform": "Lambda",
            "createTime": d.created,
            "creator": "user",
            "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            "revision": {
                "revisionType": "AppSpecContent",
                "appSpecContent": {"content": json.dumps(d.appspec)},
            },
            "deploymentOverview": _overview(d),
        }
        if d.completed is not None:
            info["completeTime"] = d.completed
        if d.error is not None:
            info["errorInformation"] = d.error
        if d.rollback is not None:
            info["rollbackInfo"] = {"rollbackMessage": d.rollback}
        return {"deploymentInfo": info}

    def _api_ListDeployments(self, f: dict[str, Any]) -> dict[str, Any]:
        wanted = set(f.get("includeOnlyStatuses") or [])
        found = [
            d
            for d in sorted(self.deployments.values(), key=lambda x: x.created, reverse=True)
            if (not f.get("applicationName") or d.group.application == f["applicationName"])
            and (not f.get("deploymentGroupName") or d.group.name == f["deploymentGroupName"])
            and (not wanted or d.status in wanted)
        ]
        return {"deployments": [d.id for d in found]}

    def _api_StopDeployment(self, f: dict[str, Any]) -> dict[str, Any]:
        d = self._deployment(f)
        if d.status not in ("Created", "InProgress"):
            raise CodeDeployError("DeploymentAlreadyCompletedException", f"The deployment {d.id} has completed")
        d.stop_requested = True
        return {"status": "Pending", "statusMessage": "Stopping the deployment and rolling back"}

    def _api_PutLifecycleEventHookExecutionStatus(self, f: dict[str, Any]) -> dict[str, Any]:
        d = self._deployment(f)
        execution_id = str(f.get("lifecycleEventHookExecutionId", ""))
        status = f.get("status")
        if status not in ("Succeeded", "Failed"):
            raise CodeDeployError(
                "InvalidLifecycleEventHookExecutionStatusException", f"status {status!r}: Succeeded or Failed"
            )
        with self._hook_reported:
            hook = d.lifecycle.get(execution_id)
            if hook is None:
                raise CodeDeployError(
                    "InvalidLifecycleEventHookExecutionIdException", f"No hook execution {execution_id} in {d.id}"
                )
            if hook.status != "InProgress":
                raise CodeDeployError(
                    "LifecycleEventAlreadyCompletedException", f"The {hook.event} hook of {d.id} already completed"
                )
            hook.status = str(status)
            self._hook_reported.notify_all()
        return {"lifecycleEventHookExecutionId": execution_id}

    def _api_ListDeploymentTargets(self, f: dict[str, Any]) -> dict[str, Any]:
        d = self._deployment(f)
        return {"targetIds": [f"{d.function}:{d.alias}"]}

    def _api_GetDeploymentTarget(self, f: dict[str, Any]) -> dict[str, Any]:
        d = self._deployment(f)
        events = [{"lifecycleEventName": hook.event, "status": hook.status} for hook in d.lifecycle.values()]
        target = {
            "deploymentId": d.id,
            "targetId": f"{d.function}:{d.alias}",
            "targetArn": f"arn:aws:lambda:{self.region}:{self.account}:function:{d.function}:{d.alias}",
            "status": d.status,
            "lifecycleEvents": events,
            "lambdaFunctionInfo": {
                "functionName": d.function,
                "functionAlias": d.alias,
                "currentVersion": d.current_version,
                "targetVersion": d.target_version,
                "targetVersionWeight": d.weight,
            },
        }
        return {"deploymentTarget": {"deploymentTargetType": "LambdaTarget", "lambdaTarget": target}}

    def _api_GetApplication(self, f: dict[str, Any]) -> dict[str, Any]:
        name = f.get("applicationName")
        if name not in self.applications:
            raise CodeDeployError("ApplicationDoesNotExistException", f"No application {name}")
        return {"application": {"applicationName": name, "computePlatform": "Lambda"}}

    def _api_ListApplications(self, f: dict[str, Any]) -> dict[str, Any]:
        return {"applications": sorted(self.applications)}

    def _api_ListDeploymentGroups(self, f: dict[str, Any]) -> dict[str, Any]:
        app = f.get("applicationName")
        return {"applicationName": app, "deploymentGroups": sorted(g for a, g in self.groups if a == app)}

    def _api_GetDeploymentGroup(self, f: dict[str, Any]) -> dict[str, Any]:
        group = self.groups.get((str(f.get("applicationName")), str(f.get("deploymentGroupName"))))
        if group is None:
            raise CodeDeployError("DeploymentGroupDoesNotExistException", "No such deployment group")
        return {
            "deploymentGroupInfo": {
                "applicationName": group.application,
                "deploymentGroupName": group.name,
                "deploymentConfigName": group.config_name,
                "computePlatform": "Lambda",
                "serviceRoleArn": group.service_role,
                "alarmConfiguration": {"enabled": bool(group.alarms), "alarms": [{"name": a} for a in group.alarms]},
                "autoRollbackConfiguration": {"enabled": True, "events": group.rollback_events},
            }
        }


def _overview(d: Deployment) -> dict[str, int]:
    done = d.status in ("Succeeded", "Failed", "Stopped")
    return {
        "Pending": 0 if done or d.status == "InProgress" else 1,
        "InProgress": 1 if d.status == "InProgress" else 0,
        "Succeeded": 1 if d.status == "Succeeded" else 0,
        "Failed": 1 if d.status == "Failed" else 0,
        "Skipped": 0,
        "Ready": 0,
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON")
