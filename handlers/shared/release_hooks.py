"""CodeDeploy lifecycle hooks of a canary release: one implementation, each service names its smoke events.

Before traffic (`BeforeAllowTraffic`): read the deployment's AppSpec (function, alias, target version),
invoke *the target version* with the service's smoke events (requests that touch no customer data:
bad input, unknown ids, a poison message) and check each answer; report `Succeeded` or `Failed` with
PutLifecycleEventHookExecutionStatus.

After traffic (`AfterAllowTraffic`): the alias must now serve the target version (a smoke request through
the alias answers from it) and the target version's own signals through the alias (AWS/Lambda Errors,
Invocations, Duration with `Resource` = `fn:alias` and `ExecutedVersion`) must be sane.

Both are idempotent (a second report of a completed hook is not an error: Lambda retries an
asynchronous invocation) and time-bounded (`RELEASE_HOOK_BUDGET_SECONDS`): a hook that runs out of
time reports `Failed` rather than leaving CodeDeploy to wait out its hour.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol

from handlers.shared.config import from_environment, refuse, setting
from handlers.shared.init_gc import resume_gc_after_first_invocation
from handlers.shared.observability import logger
from handlers.shared.records import Rules, parse, record

SMOKE_SUB = "release-smoke-0000"  # the caller of smoke requests: no customer has this id


# -- models ---------------------------------------------------------------------------------------
@record
class HookEvent:
    """What CodeDeploy sends a lifecycle hook."""

    DeploymentId: Annotated[str, Rules(min_length=1)]
    LifecycleEventHookExecutionId: Annotated[str, Rules(min_length=1)]


@dataclass(frozen=True)
class Target:
    """What a Lambda deployment shifts: from the AppSpec of the deployment."""

    function: str
    alias: str
    current_version: str
    target_version: str


@dataclass(frozen=True)
class Answer:
    """A smoke invocation's answer: its payload, error and the version that ran it."""

    function_error: str | None
    payload: Any
    executed_version: str


@dataclass(frozen=True)
class Signals:
    """What a function's metrics said over the watched minutes."""

    invocations: float
    errors: float
    max_duration_ms: float | None


@dataclass(frozen=True)
class SmokeCase:
    """One request that touches no customer data, and what a healthy version answers."""

    name: str
    event: Any
    status: int | None = None  # an HTTP API answer's statusCode
    error_types: frozenset[str] = frozenset()  # a task's expected failure (errorType)
    batch_failures: int | None = None  # an SQS consumer's batchItemFailures count

    def problem(self, answer: Answer) -> str | None:
        payload = answer.payload if isinstance(answer.payload, dict) else {}
        if self.error_types:
            kind = payload.get("errorType")
            return None if answer.function_error and kind in self.error_types else f"{self.name}: got {_brief(answer)}"
        if answer.function_error:
            return f"{self.name}: function error {_brief(answer)}"
        if self.status is not None and payload.get("statusCode") != self.status:
            return f"{self.name}: status {payload.get('statusCode')} (want {self.status})"
        if self.batch_failures is not None and len(payload.get("batchItemFailures") or []) != self.batch_failures:
            return f"{self.name}: batchItemFailures {payload.get('batchItemFailures')} (want {self.batch_failures})"
        return None


@dataclass(frozen=True)
class Limits:
    """The error rate and duration a released version must stay within."""

    max_error_rate: float = 0.01
    max_duration_ms: float = 5000.0
    minutes: int = 15  # how far back the signals are read


@dataclass
class Report:
    """A hook's verdict and the problems behind it."""

    status: str  # Succeeded | Failed
    problems: list[str] = field(default_factory=list)


# -- ports ------------------------------------------------------------------------------------------
class Deployments(Protocol):
    def target(self, deployment_id: str) -> Target: ...

    def report(self, deployment_id: str, execution_id: str, status: str) -> None: ...


class Functions(Protocol):
    def invoke(self, qualified_name: str, event: Any) -> Answer: ...


class Metrics(Protocol):
    def signals(self, target: Target, minutes: int) -> Signals: ...


# -- logic ------------------------------------------------------------------------------------------
Smoke = Mapping[str, Sequence[SmokeCase]]  # short function name (createBooking) -> its smoke cases


def cases_for(smoke: Smoke, function: str) -> Sequence[SmokeCase]:
    """The smoke cases of a deployed function (`airline-booking-prod-createBooking` -> createBooking's)."""
    for short, cases in smoke.items():
        if function == short or function.endswith(f"-{short}"):
            return cases
    return ()


def before_traffic(target: Target, smoke: Smoke, functions: Functions, deadline: float) -> Report:
    cases = cases_for(smoke, target.function)
    if not cases:
        return Report("Failed", [f"no smoke events for {target.function}"])
    problems: list[str] = []
    for case in cases:
        if time.monotonic() > deadline:
            return Report("Failed", [*problems, "out of time"])
        answer = functions.invoke(f"{target.function}:{target.target_version}", case.event)
        problem = case.problem(answer)
        if problem is not None:
            problems.append(problem)
    return Report("Failed" if problems else "Succeeded", problems)


def after_traffic(  # noqa: PLR0917 - the target, its checks and their adapters
    target: Target, smoke: Smoke, functions: Functions, metrics: Metrics, limits: Limits, deadline: float
) -> Report:
    cases = cases_for(smoke, target.function)
    if not cases:
        return Report("Failed", [f"no smoke events for {target.function}"])
    answer = functions.invoke(f"{target.function}:{target.alias}", cases[0].event)
    problems: list[str] = []
    if answer.executed_version != target.target_version:
        problems.append(f"alias {target.alias} served version {answer.executed_version}, not {target.target_version}")
    if (problem := cases[0].problem(answer)) is not None:
        problems.append(problem)
    if time.monotonic() > deadline:
        return Report("Failed", [*problems, "out of time"])
    signals = metrics.signals(target, limits.minutes)
    # A task's smoke case fails on purpose (its input error), through the alias: that error is
    # this hook's own, not the version's (metrics may not show it yet, hence the floor at 0).
    own_errors = 1 if cases[0].error_types and answer.function_error else 0
    errors = max(0.0, signals.errors - own_errors)
    invocations = max(0.0, signals.invocations - own_errors)
    if invocations and errors / invocations > limits.max_error_rate:
        problems.append(f"error rate {errors:.0f}/{invocations:.0f} above {limits.max_error_rate:.1%}")
    if signals.max_duration_ms is not None and signals.max_duration_ms > limits.max_duration_ms:
        problems.append(f"duration {signals.max_duration_ms:.0f} ms above {limits.max_duration_ms:.0f} ms")
    return Report("Failed" if problems else "Succeeded", problems)


def run_hook(
    event: Any,
    check: Callable[[Target, float], Report],
    deployments: Deployments,
    budget_seconds: float,
) -> Report:
    """Read the deployment, run the check within the budget, report its outcome (once: idempotent)."""
    hook = parse(HookEvent, event)
    deadline = time.monotonic() + budget_seconds
    try:
        target = deployments.target(hook.DeploymentId)
        report = check(target, deadline)
    except Exception as exc:  # a check that cannot run is a failed check, never a hook left hanging
        logger.exception("release hook check failed to run")
        report = Report("Failed", [f"{type(exc).__name__}: {exc}"])
    logger.info(
        "release hook", extra={"deploymentId": hook.DeploymentId, "status": report.status, "problems": report.problems}
    )
    deployments.report(hook.DeploymentId, hook.LifecycleEventHookExecutionId, report.status)
    return report


# -- events the smoke cases use ----------------------------------------------------------------------
def http_event(
    method: str,
    path: str,
    route: str,
    *,
    path_parameters: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    body: Any = None,
    groups: Sequence[str] = (),
) -> dict[str, Any]:
    """An HTTP API (payload 2.0) request from the smoke caller, as the JWT authorizer passes it on."""
    claims = {"sub": SMOKE_SUB, "token_use": "access", "scope": "aws.cognito.signin.user.admin"}
    if groups:
        claims["cognito:groups"] = "[" + " ".join(groups) + "]"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {route}",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {"content-type": "application/json", "user-agent": "release-smoke"},
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "routeKey": f"{method} {route}",
            "stage": "$default",
            "requestId": f"smoke-{int(time.time() * 1000)}",
            "authorizer": {"jwt": {"claims": claims, "scopes": None}},
        },
        "isBase64Encoded": False,
    }
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if query:
        event["queryStringParameters"] = dict(query)
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


def sqs_event(body: str, queue_arn: str = "arn:aws:sqs:eu-west-1:123456789012:release-smoke") -> dict[str, Any]:
    """One SQS record (a consumer's smoke case: a poison message its partial batch response must name)."""
    return {
        "Records": [
            {
                "messageId": "release-smoke-message",
                "receiptHandle": "release-smoke",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(time.time() * 1000))},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "eu-west-1",
            }
        ]
    }


def _brief(answer: Answer) -> str:
    text = json.dumps(answer.payload)
    return text if len(text) <= 200 else text[:200] + "..."


# -- entry points -------------------------------------------------------------------------------------
@record
class HookSettings:
    """The hook functions' environment, parsed once (handlers/shared/config.py)."""

    budget_seconds: float = setting("RELEASE_HOOK_BUDGET_SECONDS", 60.0)
    max_error_rate: float = setting("RELEASE_MAX_ERROR_RATE", 0.01)
    max_duration_ms: float = setting("RELEASE_MAX_DURATION_MS", 5000.0)

    def __post_init__(self) -> None:
        if self.budget_seconds <= 0:
            refuse("RELEASE_HOOK_BUDGET_SECONDS", "must be above 0")
        if not 0 <= self.max_error_rate <= 1:
            refuse("RELEASE_MAX_ERROR_RATE", "must be between 0 and 1")
        if self.max_duration_ms <= 0:
            refuse("RELEASE_MAX_DURATION_MS", "must be above 0")


def _settings() -> HookSettings:
    return from_environment(HookSettings)


def pre_traffic_handler(
    smoke: Smoke, deployments: Deployments | None = None, functions: Functions | None = None
) -> Callable[[Any, Any], dict[str, Any]]:
    """A service's BeforeAllowTraffic hook over its smoke cases (adapters passed in by tests)."""

    def handle(event: Any, context: Any) -> dict[str, Any]:
        from handlers.shared import release_aws

        settings = _settings()
        fns = functions or release_aws.LambdaFunctions()
        report = run_hook(
            event,
            lambda target, deadline: before_traffic(target, smoke, fns, deadline),
            deployments or release_aws.CodeDeployDeployments(),
            settings.budget_seconds,
        )
        return {"status": report.status, "problems": report.problems}

    return resume_gc_after_first_invocation(handle)


def post_traffic_handler(
    smoke: Smoke,
    deployments: Deployments | None = None,
    functions: Functions | None = None,
    metrics: Metrics | None = None,
) -> Callable[[Any, Any], dict[str, Any]]:
    """A service's AfterAllowTraffic hook: the alias serves the target and its signals are sane."""

    def handle(event: Any, context: Any) -> dict[str, Any]:
        from handlers.shared import release_aws

        settings = _settings()
        limits = Limits(settings.max_error_rate, settings.max_duration_ms)
        fns = functions or release_aws.LambdaFunctions()
        watched = metrics or release_aws.CloudWatchMetrics()
        report = run_hook(
            event,
            lambda target, deadline: after_traffic(target, smoke, fns, watched, limits, deadline),
            deployments or release_aws.CodeDeployDeployments(),
            settings.budget_seconds,
        )
        return {"status": report.status, "problems": report.problems}

    return resume_gc_after_first_invocation(handle)
