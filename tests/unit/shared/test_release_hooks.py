"""The release hooks' checks, with in-memory fakes for CodeDeploy, Lambda and CloudWatch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from handlers.shared.release_hooks import (
    Answer,
    Signals,
    SmokeCase,
    Target,
    post_traffic_handler,
    pre_traffic_handler,
)

TARGET = Target("airline-booking-prod-createBooking", "Live", "4", "5")
SMOKE = {"createBooking": [SmokeCase("no key", {"body": "{}"}, status=400)]}
EVENT = {"DeploymentId": "d-1", "LifecycleEventHookExecutionId": "hook-1"}


@dataclass
class FakeDeployments:
    reports: list[tuple[str, str, str]] = field(default_factory=list)
    broken: bool = False

    def target(self, deployment_id: str) -> Target:
        if self.broken:
            raise RuntimeError("GetDeployment: AccessDeniedException")
        return TARGET

    def report(self, deployment_id: str, execution_id: str, status: str) -> None:
        self.reports.append((deployment_id, execution_id, status))


@dataclass
class FakeFunctions:
    answers: dict[str, Answer]
    calls: list[str] = field(default_factory=list)

    def invoke(self, qualified_name: str, event: Any) -> Answer:
        self.calls.append(qualified_name)
        return self.answers[qualified_name]


@dataclass
class FakeMetrics:
    signals_: Signals

    def signals(self, target: Target, minutes: int) -> Signals:
        return self.signals_


HEALTHY = Answer(None, {"statusCode": 400, "body": "{}"}, "5")


def test_the_pre_traffic_hook_smoke_tests_the_target_version_and_reports_success() -> None:
    deployments = FakeDeployments()
    functions = FakeFunctions({f"{TARGET.function}:5": HEALTHY})
    answer = pre_traffic_handler(SMOKE, deployments, functions)(EVENT, None)
    assert answer["status"] == "Succeeded"
    assert functions.calls == [f"{TARGET.function}:5"]  # the version itself, never the alias
    assert deployments.reports == [("d-1", "hook-1", "Succeeded")]


@pytest.mark.parametrize(
    "broken",
    [
        Answer("Unhandled", {"errorType": "Runtime.ExitError"}, "5"),
        Answer(None, {"statusCode": 500, "body": "{}"}, "5"),
    ],
)
def test_the_pre_traffic_hook_reports_failure_when_the_version_answers_wrong(broken: Answer) -> None:
    deployments = FakeDeployments()
    answer = pre_traffic_handler(SMOKE, deployments, FakeFunctions({f"{TARGET.function}:5": broken}))(EVENT, None)
    assert answer["status"] == "Failed"
    assert deployments.reports == [("d-1", "hook-1", "Failed")]


def test_a_hook_that_cannot_read_its_deployment_still_reports_failed() -> None:
    deployments = FakeDeployments(broken=True)
    answer = pre_traffic_handler(SMOKE, deployments, FakeFunctions({}))(EVENT, None)
    assert answer["status"] == "Failed"
    assert "AccessDeniedException" in answer["problems"][0]
    assert deployments.reports == [("d-1", "hook-1", "Failed")]


def test_a_function_without_smoke_cases_fails_its_release() -> None:
    answer = pre_traffic_handler({"other": SMOKE["createBooking"]}, FakeDeployments(), FakeFunctions({}))(EVENT, None)
    assert answer["status"] == "Failed"


def test_task_smoke_cases_expect_the_named_input_error() -> None:
    case = SmokeCase("nothing", {}, error_types=frozenset({"InvalidTaskInput"}))
    assert case.problem(Answer("Unhandled", {"errorType": "InvalidTaskInput"}, "2")) is None
    assert case.problem(Answer("Unhandled", {"errorType": "Runtime.ExitError"}, "2")) is not None
    assert case.problem(Answer(None, {"ok": True}, "2")) is not None


def test_the_post_traffic_hook_checks_the_alias_serves_the_target_and_its_signals() -> None:
    functions = FakeFunctions({f"{TARGET.function}:Live": HEALTHY})
    deployments = FakeDeployments()
    hook = post_traffic_handler(SMOKE, deployments, functions, FakeMetrics(Signals(200, 0, 180.0)))
    assert hook(EVENT, None)["status"] == "Succeeded"
    assert functions.calls == [f"{TARGET.function}:Live"]


@pytest.mark.parametrize(
    ("served", "signals", "problem"),
    [
        (Answer(None, {"statusCode": 400}, "4"), Signals(10, 0, 100.0), "served version 4"),
        (HEALTHY, Signals(100, 5, 100.0), "error rate"),
        (HEALTHY, Signals(100, 0, 5900.0), "duration"),
    ],
)
def test_the_post_traffic_hook_fails_on_the_old_version_errors_or_latency(
    served: Answer, signals: Signals, problem: str
) -> None:
    deployments = FakeDeployments()
    hook = post_traffic_handler(
        SMOKE, deployments, FakeFunctions({f"{TARGET.function}:Live": served}), FakeMetrics(signals)
    )
    answer = hook(EVENT, None)
    assert answer["status"] == "Failed"
    assert problem in " ".join(answer["problems"])
    assert deployments.reports[-1][2] == "Failed"


def test_the_post_traffic_hook_does_not_count_its_own_smoke_error_against_the_version() -> None:
    # A task's smoke case fails on purpose through the alias; on a quiet release that is all the alias saw
    task_smoke = {"createBooking": [SmokeCase("nothing", {}, error_types=frozenset({"InvalidTaskInput"}))]}
    expected_error = Answer("Unhandled", {"errorType": "InvalidTaskInput"}, TARGET.target_version)
    functions = FakeFunctions({f"{TARGET.function}:Live": expected_error})
    quiet = post_traffic_handler(task_smoke, FakeDeployments(), functions, FakeMetrics(Signals(1, 1, 90.0)))
    assert quiet(EVENT, None)["status"] == "Succeeded"
    # Any other error still counts
    failing = post_traffic_handler(task_smoke, FakeDeployments(), functions, FakeMetrics(Signals(3, 2, 90.0)))
    assert "error rate 1/2" in " ".join(failing(EVENT, None)["problems"])
