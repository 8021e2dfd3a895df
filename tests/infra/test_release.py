"""Canary releases in the packaged templates: hooks on every shifted alias, hook roles scoped to their own
deployment groups and functions' versions, alarms on each alias (every stage that shifts: production and
the local rehearsal)."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.packaging import PRODUCTION_STAGES, resources_of_type, template
from tests.infra.iam import as_list, role_statements

pytestmark = pytest.mark.infra

CANARY_STAGES = ("local", *PRODUCTION_STAGES)
SHIFTED = {
    "catalog": {"searchFlights", "manageFlights", "reserveSeat", "releaseSeat"},
    "booking": {
        "createBooking",
        "readBookings",
        "cancelBooking",
        "confirmBooking",
        "markBookingCancelled",
        "publishBookingEvent",
    },
    "payment": {"authorizePayment", "capturePayment", "voidPayment", "refundPayment"},
    "loyalty": {"loyaltyApi", "creditPoints"},
}
ERRORS_ON_ALIAS = {  # where an error is a fault, never a business outcome
    "catalog": {"searchFlights", "manageFlights"},
    "booking": {"createBooking", "readBookings", "cancelBooking", "confirmBooking", "markBookingCancelled",
                "publishBookingEvent"},
    "payment": set(),
    "loyalty": {"loyaltyApi", "creditPoints"},
}  # fmt: skip
BUSINESS_SIGNAL = {"catalog", "booking", "payment"}
CASES = [(service, stage) for service in SHIFTED for stage in CANARY_STAGES]


def _short(tpl: dict[str, Any], function_id: str) -> str:
    return str(tpl["Resources"][function_id]["Properties"]["FunctionName"]).rsplit("-", 1)[-1]


def _shifted(tpl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Function logical id -> its CodeDeployLambdaAliasUpdate policy."""
    return {
        alias["Properties"]["FunctionName"]["Ref"]: alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
        for alias in resources_of_type(tpl, "AWS::Lambda::Alias").values()
        if "CodeDeployLambdaAliasUpdate" in alias.get("UpdatePolicy", {})
    }


@pytest.mark.parametrize(("service", "stage"), CASES)
def test_every_shifted_alias_has_a_pre_and_a_post_traffic_hook(service: str, stage: str) -> None:
    tpl = template(service, stage)
    shifted = _shifted(tpl)
    assert {_short(tpl, fn) for fn in shifted} == SHIFTED[service]
    for fn, policy in shifted.items():
        assert policy["BeforeAllowTrafficHook"] == {"Ref": "PreTrafficHookLambdaFunction"}, fn
        assert policy["AfterAllowTrafficHook"] == {"Ref": "PostTrafficHookLambdaFunction"}, fn
    for hook, entry in (("PreTrafficHookLambdaFunction", "pre_traffic"), ("PostTrafficHookLambdaFunction", "post")):
        props = tpl["Resources"][hook]["Properties"]
        assert props["Handler"].startswith(f"handlers/{service}/hooks.{entry}"), hook
        assert props["Timeout"] > float(props["Environment"]["Variables"]["RELEASE_HOOK_BUDGET_SECONDS"])


@pytest.mark.parametrize(("service", "stage"), CASES)
def test_hook_roles_reach_only_their_deployment_groups_and_their_functions_versions(service: str, stage: str) -> None:
    tpl = template(service, stage)
    shifted = _shifted(tpl)
    (application,) = resources_of_type(tpl, "AWS::CodeDeploy::Application")
    groups = {
        g["Properties"]["DeploymentGroupName"]
        for g in resources_of_type(tpl, "AWS::CodeDeploy::DeploymentGroup").values()
    }
    hook_roles = {
        tpl["Resources"][hook]["Properties"]["Role"]["Fn::GetAtt"][0]
        for hook in ("PreTrafficHookLambdaFunction", "PostTrafficHookLambdaFunction")
    }
    for role in hook_roles:
        statements = [st for name, st in role_statements(tpl) if name == role]
        codedeploy = [st for st in statements if any(a.startswith("codedeploy:") for a in as_list(st["Action"]))]
        assert len(codedeploy) == 1
        assert sorted(as_list(codedeploy[0]["Action"])) == [
            "codedeploy:GetDeployment",
            "codedeploy:PutLifecycleEventHookExecutionStatus",
        ]
        reached = set()
        for arn in codedeploy[0]["Resource"]:
            parts = arn["Fn::Join"][1]
            assert parts[-3:-1] == [":deploymentgroup:", {"Ref": application}], arn  # this stack's application
            reached.add(parts[-1].lstrip("/"))
        assert reached == groups, "exactly the groups whose aliases name this hook"
        invokes = [st for st in statements if "lambda:InvokeFunction" in as_list(st["Action"])]
        assert len(invokes) == 1
        versions = {
            arn["Fn::Join"][1][0]["Fn::GetAtt"][0] for arn in invokes[0]["Resource"] if arn["Fn::Join"][1][1] == ":*"
        }
        assert len(versions) == len(invokes[0]["Resource"]), "only qualified ARNs (versions and aliases)"
        assert versions == set(shifted), "exactly the functions this stack shifts"
    for name, statement in role_statements(tpl):
        actions = as_list(statement.get("Action"))
        if name not in hook_roles and name != "CodeDeployRole":
            assert not [a for a in actions if a.startswith("codedeploy:")], f"{name} may not report hook status"


@pytest.mark.parametrize(("service", "stage"), CASES)
def test_each_deployment_group_watches_alarms_on_its_alias(service: str, stage: str) -> None:
    tpl = template(service, stage)
    resources = tpl["Resources"]
    groups = {g: r["Properties"] for g, r in resources_of_type(tpl, "AWS::CodeDeploy::DeploymentGroup").items()}
    for fn, policy in _shifted(tpl).items():
        group = groups[policy["DeploymentGroupName"]["Ref"]]
        watched = [a["Name"]["Ref"] for a in group["AlarmConfiguration"]["Alarms"]]
        on_alias: dict[str, dict[str, Any]] = {}
        for alarm_id in watched:
            props = resources[alarm_id]["Properties"]
            dimensions = {d["Name"]: d["Value"] for d in props.get("Dimensions", [])}
            if dimensions.get("Resource") == {"Fn::Join": ["", [{"Ref": fn}, ":Live"]]}:
                assert dimensions["FunctionName"] == {"Ref": fn}
                on_alias[props["MetricName"]] = props
        assert {"Throttles", "Duration"} <= set(on_alias), fn
        assert on_alias["Duration"]["ExtendedStatistic"] == "p99"
        timeout_ms = resources[fn]["Properties"]["Timeout"] * 1000
        assert 0 < on_alias["Duration"]["Threshold"] < timeout_ms
        assert ("Errors" in on_alias) == (_short(tpl, fn) in ERRORS_ON_ALIAS[service]), fn
        for props in on_alias.values():
            assert props["TreatMissingData"] == "notBreaching"
            assert props["AlarmActions"], "an alarm that rolls a release back also tells operators"
        assert ("ReleaseBookingFailuresAlarm" in watched) == (service in BUSINESS_SIGNAL), fn


@pytest.mark.parametrize("service", sorted(SHIFTED))
def test_the_loyalty_consumer_and_every_route_are_invoked_through_the_alias(service: str) -> None:
    for stage in CANARY_STAGES:
        tpl = template(service, stage)
        aliases = set(resources_of_type(tpl, "AWS::Lambda::Alias"))
        for mapping in resources_of_type(tpl, "AWS::Lambda::EventSourceMapping").values():
            assert mapping["Properties"]["FunctionName"]["Ref"] in aliases
        for integration in resources_of_type(tpl, "AWS::ApiGatewayV2::Integration").values():
            assert "AliasLive" in str(integration["Properties"]["IntegrationUri"])


@pytest.mark.parametrize("service", sorted(SHIFTED))
def test_stages_without_canaries_have_no_hooks(service: str) -> None:
    tpl = template(service, "dev")
    names = {_short(tpl, fn) for fn in resources_of_type(tpl, "AWS::Lambda::Function")}
    assert not {"preTrafficHook", "postTrafficHook"} & names
    assert not resources_of_type(tpl, "AWS::CodeDeploy::DeploymentGroup")
