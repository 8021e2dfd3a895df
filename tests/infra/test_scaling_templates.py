"""Scaling in the packaged templates: warm environments on the release alias, the hybrid tier, autoscaling roles."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.packaging import (
    PLATFORM,
    PRODUCTION_STAGES,
    ROOT,
    resources_of_type,
    services,
    template,
)
from tests.infra.iam import ACTIONS_WITHOUT_RESOURCE_SCOPE, as_list, role_statements

pytestmark = pytest.mark.infra

# Latency-critical functions that keep warm environments in production.
WARM_FUNCTIONS = {"catalog": ("SearchFlights",), "booking": ("CreateBooking",)}
DEVELOPMENT_STAGES = ("local", "dev")
HYBRID_TYPES = (
    "AWS::AutoScaling::AutoScalingGroup",
    "AWS::EC2::LaunchTemplate",
    "AWS::EC2::SecurityGroup",
    "AWS::IAM::InstanceProfile",
)


def _uses_the_plugin(service: str) -> bool:
    return "provisioned-concurrency-on-alias" in (ROOT / "services" / service / "serverless.yml").read_text()


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["Ref"]] if isinstance(node.get("Ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


WARM_CASES = [
    (service, function, stage)
    for service, functions in WARM_FUNCTIONS.items()
    for function in functions
    for stage in PRODUCTION_STAGES
]


@pytest.mark.parametrize(("service", "function", "stage"), WARM_CASES)
def test_production_keeps_warm_environments_on_the_alias_codedeploy_shifts_and_the_api_invokes(
    service: str, function: str, stage: str
) -> None:
    if service not in services() or not _uses_the_plugin(service):
        pytest.skip(f"{service} does not list provisioned-concurrency-on-alias yet (see docs/scaling.md)")
    tpl = template(service, stage)
    resources = tpl["Resources"]
    alias_id = f"{function}LambdaFunctionAliasLive"
    function_id = f"{function}LambdaFunction"

    # Given the one alias of the function, with its provisioned concurrency
    aliases = [
        name
        for name, alias in resources_of_type(tpl, "AWS::Lambda::Alias").items()
        if alias["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    assert aliases == [alias_id], "a second alias would split warm environments from traffic"
    alias = resources[alias_id]
    provisioned = alias["Properties"]["ProvisionedConcurrencyConfig"]["ProvisionedConcurrentExecutions"]
    assert provisioned >= 1

    # Then CodeDeploy shifts that alias ...
    update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    group = resources[update["DeploymentGroupName"]["Ref"]]
    assert group["Type"] == "AWS::CodeDeploy::DeploymentGroup"

    # ... the HTTP API invokes it and may invoke it ...
    integrations = [
        integration
        for integration in resources_of_type(tpl, "AWS::ApiGatewayV2::Integration").values()
        if alias_id in _refs(integration["Properties"]["IntegrationUri"])
    ]
    if function == "SearchFlights":
        assert integrations, "the HTTP API must invoke the alias that has the warm environments"
    for integration in resources_of_type(tpl, "AWS::ApiGatewayV2::Integration").values():
        assert function_id not in _refs(integration["Properties"]["IntegrationUri"]), "integration bypasses alias"
    permissions = [
        p["Properties"]["FunctionName"]
        for p in resources_of_type(tpl, "AWS::Lambda::Permission").values()
        if p["Properties"].get("Principal") == "apigateway.amazonaws.com"
        and {function_id, alias_id} & set(_refs(p["Properties"]["FunctionName"]))
    ]
    assert permissions == [{"Ref": alias_id}] * len(permissions)
    assert bool(permissions) == bool(integrations)

    # ... and Application Auto Scaling tracks its utilization within per-stage bounds.
    target_id = f"{function}ProvisionedConcurrencyScalableTarget"
    target = resources[target_id]
    assert target["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"
    assert alias_id in as_list(target["DependsOn"])
    props = target["Properties"]
    assert props["ServiceNamespace"] == "lambda"
    assert props["ScalableDimension"] == "lambda:function:ProvisionedConcurrency"
    assert props["ResourceId"] == {"Fn::Join": ["", ["function:", {"Ref": function_id}, ":Live"]]}
    assert props["MinCapacity"] <= provisioned <= props["MaxCapacity"]
    policies = [
        policy
        for policy in resources_of_type(tpl, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
        if policy["Properties"]["ScalingTargetId"] == {"Ref": target_id}
    ]
    assert len(policies) == 1
    tracking = policies[0]["Properties"]
    assert tracking["PolicyType"] == "TargetTrackingScaling"
    config = tracking["TargetTrackingScalingPolicyConfiguration"]
    assert config["PredefinedMetricSpecification"]["PredefinedMetricType"] == "LambdaProvisionedConcurrencyUtilization"
    assert 0 < config["TargetValue"] <= 1


@pytest.mark.parametrize(("service", "stage"), [(s, st) for s in services() for st in DEVELOPMENT_STAGES])
def test_development_stages_keep_no_warm_environments(service: str, stage: str) -> None:
    tpl = template(service, stage)
    for name, alias in resources_of_type(tpl, "AWS::Lambda::Alias").items():
        assert "ProvisionedConcurrencyConfig" not in alias["Properties"], name
    for name, fn in resources_of_type(tpl, "AWS::Lambda::Function").items():
        assert "ProvisionedConcurrencyConfig" not in fn["Properties"], name
    assert not [k for k, v in tpl["Resources"].items() if v["Type"].startswith("AWS::ApplicationAutoScaling::")]


AUTOSCALING_STAGES = ("local", "dev", "prod", "prod-blue", "prod-green")


@pytest.mark.parametrize("stage", AUTOSCALING_STAGES)
def test_autoscaling_roles_change_only_the_hybrid_group(stage: str) -> None:
    tpl = template("autoscaling", stage)
    env = "prod" if stage.startswith("prod") else stage
    functions = resources_of_type(tpl, "AWS::Lambda::Function")
    assert {name.removesuffix("LambdaFunction") for name in functions} == {"ScaleUp", "ScaleDown", "Monitor"}
    for name, fn in functions.items():
        role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
        statements = [st for owner, st in role_statements(tpl) if owner == role and st["Effect"] == "Allow"]
        granted = {action for st in statements for action in as_list(st["Action"])}
        assert not [a for a in granted if "*" in a], f"{name}: wildcard action"
        assert {"autoscaling:DescribeAutoScalingGroups", "autoscaling:SetDesiredCapacity"} <= granted, name
        for statement in statements:
            actions = set(as_list(statement["Action"]))
            if "*" in as_list(statement["Resource"]):
                assert actions <= ACTIONS_WITHOUT_RESOURCE_SCOPE, f"{name}: {actions} on '*'"
            if "autoscaling:SetDesiredCapacity" in actions:
                (arn,) = as_list(statement["Resource"])
                assert arn["Fn::Sub"].endswith(f":autoScalingGroup:*:autoScalingGroupName/airline-{env}-hybrid")
                assert statement["Condition"] == {"StringEquals": {"aws:ResourceTag/airline:tier": "hybrid"}}
        assert ("cloudwatch:GetMetricData" in granted) == (name == "MonitorLambdaFunction"), name
        variables = fn["Properties"]["Environment"]["Variables"]
        assert variables["HYBRID_GROUP_NAME"] == f"airline-{env}-hybrid"


@pytest.mark.parametrize("stage", AUTOSCALING_STAGES)
def test_the_monitor_runs_every_five_minutes_only_where_there_is_a_hybrid_tier(stage: str) -> None:
    tpl = template("autoscaling", stage)
    rules = resources_of_type(tpl, "AWS::Events::Rule")
    if stage == "local":
        assert not rules
        return
    (rule,) = rules.values()
    assert rule["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": ["MonitorLambdaFunction", "Arn"]}
    monitor = tpl["Resources"]["MonitorLambdaFunction"]["Properties"]
    assert monitor["ReservedConcurrentExecutions"] == 1  # two overlapping rounds could both scale


@pytest.mark.parametrize(("environment", "deployed"), [("local", False), ("dev", True), ("prod", True)])
def test_the_hybrid_tier_exists_only_where_the_environment_has_one(environment: str, deployed: bool) -> None:
    tpl = template(PLATFORM, environment)
    assert tpl["Parameters"]["HybridTier"]["Default"] == ("true" if deployed else "false")
    assert tpl["Conditions"]["HasHybridTier"] == {"Fn::Equals": [{"Ref": "HybridTier"}, "true"]}
    hybrid = {name: r for name, r in tpl["Resources"].items() if name.startswith("Hybrid")}
    assert {r["Type"] for r in hybrid.values()} >= set(HYBRID_TYPES)
    for name, resource in hybrid.items():
        assert resource.get("Condition") == "HasHybridTier", f"{name} would deploy without a hybrid tier"
    exports = {k: v for k, v in tpl["Outputs"].items() if k.startswith("HybridGroup")}
    assert {v["Export"]["Name"] for v in exports.values()} == {
        f"airline-{environment}-HybridGroupName",
        f"airline-{environment}-HybridGroupArn",
    }
    assert all(v["Condition"] == "HasHybridTier" for v in exports.values())


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_hybrid_instances_are_private_imdsv2_and_encrypted(environment: str) -> None:
    tpl = template(PLATFORM, environment)
    data = tpl["Resources"]["HybridLaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert all(d["Ebs"]["Encrypted"] is True for d in data["BlockDeviceMappings"])
    assert all(n["AssociatePublicIpAddress"] is False for n in data["NetworkInterfaces"])
    assert data["ImageId"] == {"Ref": "HybridAmiId"}
    assert tpl["Parameters"]["HybridAmiId"]["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
    assert tpl["Parameters"]["HybridAmiId"]["Default"].startswith("/aws/service/ami-amazon-linux-latest/")
    group = tpl["Resources"]["HybridGroup"]["Properties"]
    assert group["AutoScalingGroupName"] == f"airline-{environment}-hybrid"
    assert int(group["MinSize"]) <= int(group["DesiredCapacity"]) <= int(group["MaxSize"])
    assert {"Key": "airline:tier", "Value": "hybrid", "PropagateAtLaunch": False} in group["Tags"]
    security_group = tpl["Resources"]["HybridSecurityGroup"]["Properties"]
    assert "SecurityGroupIngress" not in security_group
