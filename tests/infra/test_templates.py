"""What matters in the packaged CloudFormation of every stack and stage."""

from __future__ import annotations

import zipfile
from typing import Any

import pytest

from localcloud.packaging import (
    COMPUTE_STAGES,
    ENVIRONMENTS,
    PLATFORM,
    PRODUCTION_STAGES,
    function_services,
    package,
    resources_of_type,
    services,
    stacks,
    stages,
    template,
)
from tests.infra.iam import ACTIONS_WITHOUT_RESOURCE_SCOPE, as_list, role_statements

pytestmark = pytest.mark.infra

EVERY_STACK_AND_STAGE = [(stack, stage) for stack in stacks() for stage in stages(stack)]
EVERY_SERVICE_AND_STAGE = [(service, stage) for service in services() for stage in COMPUTE_STAGES]
RETENTION_DAYS = {"local": 1, "dev": 7, "prod": 90, "prod-blue": 90, "prod-green": 90}
BUNDLED_BY_THE_RUNTIME = ("boto3/", "botocore/", "s3transfer/", "jmespath/", "dateutil/", "urllib3/")


def functions(tpl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources_of_type(tpl, "AWS::Lambda::Function")


@pytest.mark.parametrize(("stack", "stage"), EVERY_STACK_AND_STAGE)
def test_every_stack_packages_offline(stack: str, stage: str) -> None:
    assert (package(stack, stage) / "cloudformation-template-update-stack.json").is_file()


@pytest.mark.parametrize(("service", "stage"), EVERY_SERVICE_AND_STAGE)
def test_every_http_route_uses_the_jwt_authorizer(service: str, stage: str) -> None:
    tpl = template(service, stage)
    authorizers = resources_of_type(tpl, "AWS::ApiGatewayV2::Authorizer")
    for name, route in resources_of_type(tpl, "AWS::ApiGatewayV2::Route").items():
        props = route["Properties"]
        assert props.get("AuthorizationType") == "JWT", f"{service}/{stage}: {name} is open"
        assert props["AuthorizerId"]["Ref"] in authorizers
    for authorizer in authorizers.values():
        jwt = authorizer["Properties"]["JwtConfiguration"]
        assert "Fn::ImportValue" in str(jwt["Issuer"])
        assert "UserPoolClientId" in str(jwt["Audience"])


@pytest.mark.parametrize(("service", "stage"), EVERY_SERVICE_AND_STAGE)
def test_every_function_is_traced_with_its_own_role_and_deliberate_limits(service: str, stage: str) -> None:
    tpl = template(service, stage)
    assert "IamRoleLambdaExecution" not in tpl["Resources"], "the framework's shared default role must be pruned"
    roles = [fn["Properties"]["Role"]["Fn::GetAtt"][0] for fn in functions(tpl).values()]
    assert len(roles) == len(set(roles)), f"{service}/{stage}: functions share a role"
    for name, fn in functions(tpl).items():
        props = fn["Properties"]
        assert props["TracingConfig"] == {"Mode": "Active"}, name
        assert props["Runtime"] == "python3.13", name
        assert 1 <= props["Timeout"] <= 900, name
        assert props["MemorySize"] >= 128, name
        assert roles.count(props["Role"]["Fn::GetAtt"][0]) == 1
    for name, log_group in resources_of_type(tpl, "AWS::Logs::LogGroup").items():
        assert log_group["Properties"].get("RetentionInDays") == RETENTION_DAYS[stage], name


@pytest.mark.parametrize(("stack", "stage"), EVERY_STACK_AND_STAGE)
def test_no_iam_statement_grants_a_wildcard(stack: str, stage: str) -> None:
    for name, statement in role_statements(template(stack, stage)):
        if statement.get("Effect") != "Allow":
            continue
        actions = as_list(statement["Action"])
        assert not [a for a in actions if a == "*" or a.endswith(":*")], f"{name}: wildcard action {actions}"
        if "*" in as_list(statement.get("Resource")):
            broad = set(actions) - ACTIONS_WITHOUT_RESOURCE_SCOPE
            assert not broad, f"{name}: {sorted(broad)} on '*' where AWS allows a narrower resource"


@pytest.mark.parametrize(("service", "stage"), EVERY_SERVICE_AND_STAGE)
def test_every_role_has_xray_permissions(service: str, stage: str) -> None:
    tpl = template(service, stage)
    for fn_name, fn in functions(tpl).items():
        role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
        granted = {a for name, st in role_statements(tpl) if name == role for a in as_list(st["Action"])}
        assert {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} <= granted, fn_name


@pytest.mark.parametrize(("service", "stage"), [(s, st) for s in services() for st in ("local", *PRODUCTION_STAGES)])
def test_production_stages_shift_traffic_with_codedeploy_and_a_narrow_role(service: str, stage: str) -> None:
    # and `local`, where the local cloud rehearses releases (docs/release.md)
    tpl = template(service, stage)
    aliased = {
        name: alias
        for name, alias in resources_of_type(tpl, "AWS::Lambda::Alias").items()
        if "CodeDeployLambdaAliasUpdate" in alias.get("UpdatePolicy", {})
    }
    has_http_api = bool(resources_of_type(tpl, "AWS::ApiGatewayV2::Api"))
    if not has_http_api and not aliased:
        return  # a service of background jobs only (e.g. autoscaling) may deploy all at once
    assert aliased, f"{service}/{stage}: HTTP functions must be released through CodeDeploy"
    assert resources_of_type(tpl, "AWS::CodeDeploy::Application")
    groups = resources_of_type(tpl, "AWS::CodeDeploy::DeploymentGroup")
    assert groups
    for group in groups.values():
        props = group["Properties"]
        assert props["ServiceRoleArn"] == {"Fn::GetAtt": ["CodeDeployRole", "Arn"]}
        template_text, values = props["DeploymentConfigName"]["Fn::Sub"]
        assert template_text == "CodeDeployDefault.Lambda${ConfigName}"
        assert values["ConfigName"].startswith(("Canary", "Linear")), "production shifts traffic gradually"
        assert props["AlarmConfiguration"]["Alarms"], "a canary without alarms cannot roll back"
        assert props["AlarmConfiguration"]["Enabled"] is True
        assert props["AutoRollbackConfiguration"]["Enabled"] is True
    role = tpl["Resources"]["CodeDeployRole"]["Properties"]
    assert not role.get("ManagedPolicyArns"), "the plugin's AWSLambda_FullAccess must not come back"
    for integration in resources_of_type(tpl, "AWS::ApiGatewayV2::Integration").values():
        assert "Alias" in str(integration["Properties"]["IntegrationUri"]), "the API must invoke the shifted alias"


@pytest.mark.parametrize(("service", "stage"), [(s, st) for s in services() for st in ("dev",)])
def test_development_stages_deploy_all_at_once(service: str, stage: str) -> None:
    tpl = template(service, stage)
    assert not resources_of_type(tpl, "AWS::CodeDeploy::DeploymentGroup")
    assert "CodeDeployRole" not in tpl["Resources"]


@pytest.mark.parametrize("service", function_services())
def test_dependencies_ship_once_as_a_layer_without_what_the_runtime_provides(service: str) -> None:
    out = package(service, "dev")
    tpl = template(service, "dev")
    layer_zip = out / "pythonRequirements.zip"
    with zipfile.ZipFile(layer_zip) as layer:
        names = layer.namelist()
    assert any(n.startswith("python/aws_lambda_powertools/") for n in names)
    # Bytecode ships in the read-only layer, or every cold start compiles what it imports
    # (bytecode only, no sources: tests/infra/test_layers.py).
    assert "python/aws_lambda_powertools/tracing/tracer.pyc" in names
    assert not [n for n in names if n.startswith(tuple("python/" + p for p in BUNDLED_BY_THE_RUNTIME))]
    for name, fn in functions(tpl).items():
        assert fn["Properties"]["Layers"] == [{"Ref": "PythonRequirementsLambdaLayer"}], name
        artifact = out / fn["Properties"]["Code"]["S3Key"].split("/")[-1]
        with zipfile.ZipFile(artifact) as code:
            top = {n.split("/")[0] for n in code.namelist()}
            packages = {n.split("/")[1] for n in code.namelist() if n.startswith("handlers/") and n.count("/") > 1}
        packages.discard("__pycache__")  # bytecode of handlers/__init__.py (plugins/add_bytecode.py)
        assert top == {"handlers"}, f"{name}: {top}"
        # No function ships another service's package.
        assert packages <= {"shared", service}, f"{name}: {packages}"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_platform_data_is_encrypted_recoverable_and_retained_in_prod(environment: str) -> None:
    tpl = template(PLATFORM, environment)
    tables = resources_of_type(tpl, "AWS::DynamoDB::Table")
    assert tables
    for name, table in tables.items():
        props = table["Properties"]
        assert props["SSESpecification"]["SSEEnabled"] is True, name
        assert props["SSESpecification"].get("KMSMasterKeyId"), name
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name
        assert props["TableName"].startswith(f"airline-{environment}-"), name
        expected = "Retain" if environment == "prod" else "Delete"
        assert table.get("DeletionPolicy") == expected, name
    for kind in ("AWS::SNS::Topic",):
        for name, resource in resources_of_type(tpl, kind).items():
            assert resource["Properties"].get("KmsMasterKeyId"), name
    for name, queue in resources_of_type(tpl, "AWS::SQS::Queue").items():
        assert queue["Properties"].get("KmsMasterKeyId") or queue["Properties"].get("SqsManagedSseEnabled"), name


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_platform_exports_what_services_import(environment: str) -> None:
    exported = {
        output["Export"]["Name"]
        for output in template(PLATFORM, environment).get("Outputs", {}).values()
        if "Export" in output
    }
    for service in services():
        for stage in COMPUTE_STAGES:
            env = "prod" if stage.startswith("prod") else stage
            if env != environment:
                continue
            imported = set(_imports(template(service, stage)))
            assert imported <= exported, f"{service}/{stage} imports what the platform does not export"


def _imports(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["Fn::ImportValue"]] if isinstance(node.get("Fn::ImportValue"), str) else []
        return found + [name for value in node.values() for name in _imports(value)]
    if isinstance(node, list):
        return [name for value in node for name in _imports(value)]
    return []


def test_cognito_pool_is_email_verified_with_a_password_policy_and_an_admin_group() -> None:
    tpl = template(PLATFORM, "prod")
    pool = next(iter(resources_of_type(tpl, "AWS::Cognito::UserPool").values()))["Properties"]
    assert pool["UsernameAttributes"] == ["email"]
    assert pool["AutoVerifiedAttributes"] == ["email"]
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] >= 12
    assert pool["MfaConfiguration"] == "OPTIONAL"
    client = next(iter(resources_of_type(tpl, "AWS::Cognito::UserPoolClient").values()))["Properties"]
    assert client["GenerateSecret"] is False
    assert {"ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH"} <= set(client["ExplicitAuthFlows"])
    groups = [g["Properties"]["GroupName"] for g in resources_of_type(tpl, "AWS::Cognito::UserPoolGroup").values()]
    assert groups == ["Admin"]
    role = tpl["Resources"]["IdentityPoolAuthenticatedRole"]["Properties"]
    assert not role.get("Policies")
    assert not role.get("ManagedPolicyArns")
