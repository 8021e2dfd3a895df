"""Versions side by side, weighted aliases, and CodeDeploy deployments on the local runner (no edge needed)."""

from __future__ import annotations

import json
import random
import textwrap
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud.codedeploy import CodeDeploy, DeploymentGroup, Step, traffic_steps
from localcloud.faults import Faults, parse_spec
from localcloud.runner import AliasRoute, FunctionNotFound, FunctionSpec, Runner

CODE = textwrap.dedent(
    """
    import os

    def handler(event, context):
        return {"release": os.environ.get("RELEASE"), "arn": context.invoked_function_arn}
    """
)


def _zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("app.py", CODE)
    return path


def _spec(code: Path, release: str) -> FunctionSpec:
    return FunctionSpec("shop", "app.handler", code, [], {"RELEASE": release}, 3.0, 128)


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[Runner]:
    r = Runner(tmp_path / "work", "http://127.0.0.1:1", account_limit=4)
    code = _zip(tmp_path / "fn.zip")
    r.register(_spec(code, "one"))
    assert r.publish_version("shop") == "1"
    r.update_alias("shop", "Live", AliasRoute("1"))
    r.register(_spec(code, "two"))  # new code: $LATEST moves on, version 1 keeps its own
    assert r.publish_version("shop") == "2"
    assert r.publish_version("shop") == "2"  # nothing changed since: the same version, as Lambda answers
    yield r
    r.stop()


def test_versions_run_side_by_side_and_unqualified_calls_run_latest(runner: Runner) -> None:
    assert runner.invoke("shop", {}).json()["release"] == "two"
    one = runner.invoke("shop:1", {})
    assert (one.json()["release"], one.executed_version) == ("one", "1")
    assert runner.invoke("arn:aws:lambda:eu-west-1:123456789012:function:shop:2", {}).executed_version == "2"
    live = runner.invoke("shop:Live", {})
    assert (live.json()["release"], live.executed_version) == ("one", "1")
    assert live.json()["arn"].endswith(":function:shop:Live")
    integration = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/"
    integration += "arn:aws:lambda:eu-west-1:123456789012:function:shop:Live/invocations"
    assert runner.invoke(integration, {}).executed_version == "1"  # what an HTTP API route invokes


def test_an_alias_routes_each_invocation_by_its_weights(runner: Runner) -> None:
    runner._draw = random.Random(7)
    runner.update_alias("shop", "Live", AliasRoute("1", "2", 0.25))
    versions = [runner.invoke("shop:Live", {}).executed_version for _ in range(80)]
    assert set(versions) == {"1", "2"}
    assert 8 <= versions.count("2") <= 32  # 25 % of 80 = 20, seeded
    runner.update_alias("shop", "Live", AliasRoute("2"))
    assert {runner.invoke("shop:Live", {}).executed_version for _ in range(5)} == {"2"}


def test_an_alias_cannot_point_at_a_version_that_does_not_exist(runner: Runner) -> None:
    with pytest.raises(FunctionNotFound):
        runner.update_alias("shop", "Live", AliasRoute("1", "9", 0.1))


def test_a_fault_rule_scoped_to_a_version_and_the_alias_spares_direct_calls(runner: Runner) -> None:
    faults = Faults()
    faults.set(parse_spec("service=lambda,function=shop,version=2,qualifier=Live,error=crash,rate=1"))
    runner.faults = faults
    runner.update_alias("shop", "Live", AliasRoute("2"))
    assert runner.invoke("shop:Live", {}).json()["errorType"] == "Runtime.ExitError"
    assert runner.invoke("shop:2", {}).function_error is None  # what a pre-traffic hook calls
    assert runner.invoke("shop", {}).function_error is None


def test_deployment_configurations_give_their_steps() -> None:
    assert traffic_steps("CodeDeployDefault.LambdaCanary10Percent5Minutes") == [Step(0.1, 5), Step(1.0, 0)]
    assert traffic_steps("CodeDeployDefault.LambdaAllAtOnce") == [Step(1.0, 0)]
    linear = traffic_steps("CodeDeployDefault.LambdaLinear10PercentEvery1Minute")
    assert [s.weight for s in linear] == [round(0.1 * i, 6) for i in range(1, 11)]
    assert [s.wait_minutes for s in linear] == [1] * 9 + [0]


# -- deployments ------------------------------------------------------------------------------------
class Hooks:
    """Hook functions as CodeDeploy invokes them: each reports through the API, as a real hook does."""

    def __init__(self, verdicts: dict[str, str]) -> None:
        self.verdicts = verdicts
        self.codedeploy: CodeDeploy | None = None
        self.calls: list[str] = []

    def invoke(self, function: str, event: Any) -> Any:
        self.calls.append(function)
        assert self.codedeploy is not None
        status, _ = self.codedeploy.handle(
            "PutLifecycleEventHookExecutionStatus",
            json.dumps(
                {
                    "deploymentId": event["DeploymentId"],
                    "lifecycleEventHookExecutionId": event["LifecycleEventHookExecutionId"],
                    "status": self.verdicts[function],
                }
            ).encode(),
        )
        assert status == 200
        return None


def _codedeploy(runner: Runner, hooks: Hooks, alarm_states: list[str], config: str) -> CodeDeploy:
    codedeploy = CodeDeploy(runner, hooks.invoke, "http://unused", region="eu-west-1", account="123456789012")
    codedeploy.minute_seconds = 0.2
    states = iter(alarm_states)
    codedeploy.evaluate = lambda names, scale: {"shop-errors": next(states, "OK")}
    hooks.codedeploy = codedeploy
    codedeploy.put_application("app")
    codedeploy.put_group(DeploymentGroup("app", "shop-group", config, alarms=["shop-errors"]))
    return codedeploy


def _appspec() -> dict[str, Any]:
    props = {"Name": "shop", "Alias": "Live", "CurrentVersion": "1", "TargetVersion": "2"}
    return {
        "version": 0.0,
        "Resources": [{"shop": {"Type": "AWS::Lambda::Function", "Properties": props}}],
        "Hooks": [{"BeforeAllowTraffic": "pre"}, {"AfterAllowTraffic": "post"}],
    }


def _finish(codedeploy: CodeDeploy, deployment_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        _, body = codedeploy.handle("GetDeployment", json.dumps({"deploymentId": deployment_id}).encode())
        info: dict[str, Any] = json.loads(body)["deploymentInfo"]
        if info["status"] in ("Succeeded", "Failed", "Stopped"):
            return info
        time.sleep(0.05)
    raise AssertionError("the deployment did not finish")


def _weights(codedeploy: CodeDeploy, deployment_id: str) -> list[float]:
    return [e["weight"] for e in codedeploy.deployments[deployment_id].events if e["event"] == "shifted"]


def test_a_good_canary_runs_both_hooks_and_ends_on_the_new_version(runner: Runner) -> None:
    hooks = Hooks({"pre": "Succeeded", "post": "Succeeded"})
    codedeploy = _codedeploy(runner, hooks, [], "CodeDeployDefault.LambdaCanary10Percent5Minutes")
    deployment_id = codedeploy.create_deployment("app", "shop-group", _appspec())
    info = _finish(codedeploy, deployment_id)
    assert info["status"] == "Succeeded"
    assert _weights(codedeploy, deployment_id) == [0.1, 1.0]
    assert hooks.calls == ["pre", "post"]
    assert runner.alias("shop", "Live") == AliasRoute("2")
    assert json.loads(info["revision"]["appSpecContent"]["content"]) == _appspec()


def test_an_alarm_during_the_canary_stops_it_and_rolls_the_alias_back(runner: Runner) -> None:
    hooks = Hooks({"pre": "Succeeded", "post": "Succeeded"})
    codedeploy = _codedeploy(runner, hooks, ["OK", "ALARM"], "CodeDeployDefault.LambdaCanary10Percent5Minutes")
    deployment_id = codedeploy.create_deployment("app", "shop-group", _appspec())
    info = _finish(codedeploy, deployment_id)
    assert info["status"] == "Stopped"
    assert info["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert _weights(codedeploy, deployment_id) == [0.1]  # never past its first step
    assert runner.alias("shop", "Live") == AliasRoute("1")
    assert hooks.calls == ["pre"]  # no post-traffic hook after a rollback


def test_a_failing_pre_traffic_hook_means_the_new_version_never_gets_traffic(runner: Runner) -> None:
    hooks = Hooks({"pre": "Failed", "post": "Succeeded"})
    codedeploy = _codedeploy(runner, hooks, [], "CodeDeployDefault.LambdaAllAtOnce")
    deployment_id = codedeploy.create_deployment("app", "shop-group", _appspec())
    info = _finish(codedeploy, deployment_id)
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"
    assert _weights(codedeploy, deployment_id) == []
    assert runner.alias("shop", "Live") == AliasRoute("1")


def test_the_api_answers_with_codedeploys_errors(runner: Runner) -> None:
    hooks = Hooks({"pre": "Succeeded", "post": "Succeeded"})
    codedeploy = _codedeploy(runner, hooks, [], "CodeDeployDefault.LambdaAllAtOnce")
    status, body = codedeploy.handle("GetDeployment", b'{"deploymentId": "d-NOPE"}')
    assert (status, json.loads(body)["__type"]) == (400, "DeploymentDoesNotExistException")
    deployment_id = codedeploy.create_deployment("app", "shop-group", _appspec(), start=False)
    status, body = codedeploy.handle(
        "CreateDeployment",
        json.dumps(
            {
                "applicationName": "app",
                "deploymentGroupName": "shop-group",
                "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": json.dumps(_appspec())}},
            }
        ).encode(),
    )
    assert (status, json.loads(body)["__type"]) == (400, "DeploymentLimitExceededException")
    report = {"deploymentId": deployment_id, "lifecycleEventHookExecutionId": "unknown", "status": "Succeeded"}
    status, body = codedeploy.handle("PutLifecycleEventHookExecutionStatus", json.dumps(report).encode())
    assert json.loads(body)["__type"] == "InvalidLifecycleEventHookExecutionIdException"
    codedeploy.start(deployment_id)
    assert _finish(codedeploy, deployment_id)["status"] == "Succeeded"
    execution_id = next(iter(codedeploy.deployments[deployment_id].lifecycle))
    report["lifecycleEventHookExecutionId"] = execution_id
    status, body = codedeploy.handle("PutLifecycleEventHookExecutionStatus", json.dumps(report).encode())
    assert json.loads(body)["__type"] == "LifecycleEventAlreadyCompletedException"
    status, body = codedeploy.handle("ListDeployments", b'{"applicationName": "app"}')
    assert json.loads(body)["deployments"] == [deployment_id]
