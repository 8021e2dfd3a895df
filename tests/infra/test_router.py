"""The router of every environment and what colour stages take from it (packaged templates)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from handlers.shared.events import SCHEMA_VERSION
from localcloud.packaging import COMPUTE_STAGES, ENVIRONMENTS, PLATFORM, ROOT, resources_of_type, template

pytestmark = pytest.mark.infra

HTTP_SERVICES = ("booking", "catalog", "loyalty")
ONE_COLOUR_SERVICES = ("autoscaling", "loyalty")  # the loyalty queue's consumer, the hybrid tier's monitor
COLOUR_STAGES = {"prod-blue": "blue", "prod-green": "green"}
WITH_DOMAIN = {"prod"}


def _live_import(env: str, service: str, name: str) -> dict[str, Any]:
    return {"Fn::ImportValue": {"Fn::Join": ["", [f"airline-{service}-{env}-", {"Ref": "LiveColour"}, f"-{name}"]]}}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_router_records_the_live_colour_in_ssm_from_a_parameter(env: str) -> None:
    tpl = template("router", env)
    live = tpl["Parameters"]["LiveColour"]
    assert live["AllowedValues"] == ["none", "blue", "green"]
    assert live["Default"] == "none"  # first deploy: nothing live until a colour is promoted
    assert tpl["Parameters"]["PreviousColour"]["AllowedValues"] == ["none", "blue", "green"]
    (record,) = resources_of_type(tpl, "AWS::SSM::Parameter").values()
    assert record["Properties"]["Name"] == f"/airline-{env}/live-colour"
    assert record["Properties"]["Value"] == {"Ref": "LiveColour"}
    description = record["Properties"]["Description"]["Fn::Sub"]
    for who_what_when in ("${Action}", "${PreviousColour}", "${LiveColour}", "${PromotedBy}", "${PromotedAt}"):
        assert who_what_when in description
    assert tpl["Conditions"]["HasLiveColour"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "LiveColour"}, "none"]}]}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_router_outputs_the_live_colours_endpoints_for_clients(env: str) -> None:
    outputs = template("router", env)["Outputs"]
    assert outputs["LiveColour"]["Value"] == {"Ref": "LiveColour"}
    for service in HTTP_SERVICES:
        output = outputs[f"{service.capitalize()}ApiUrl"]
        assert output["Condition"] == "HasLiveColour"
        assert output["Value"] == _live_import(env, service, "HttpApiUrl")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_a_custom_domain_maps_each_api_to_the_live_colour_where_configured(env: str) -> None:
    tpl = template("router", env)
    domains = resources_of_type(tpl, "AWS::ApiGatewayV2::DomainName")
    mappings = resources_of_type(tpl, "AWS::ApiGatewayV2::ApiMapping")
    if env not in WITH_DOMAIN:
        assert domains == {}
        assert mappings == {}
        assert "ApiCertificateArn" not in tpl["Parameters"]
        return
    ((domain_id, domain),) = domains.items()
    (config,) = domain["Properties"]["DomainNameConfigurations"]
    assert config == {
        "CertificateArn": {"Ref": "ApiCertificateArn"},
        "EndpointType": "REGIONAL",
        "SecurityPolicy": "TLS_1_2",
    }
    certificate = tpl["Parameters"]["ApiCertificateArn"]
    assert certificate["Type"] == "AWS::SSM::Parameter::Value<String>"  # kept in SSM, not in the template
    by_key = {m["Properties"]["ApiMappingKey"]: m for m in mappings.values()}
    assert sorted(by_key) == sorted(HTTP_SERVICES)
    for service, mapping in by_key.items():
        assert mapping["Condition"] == "HasLiveColour"
        assert mapping["Properties"]["DomainName"] == {"Ref": domain_id}
        assert mapping["Properties"]["Stage"] == "$default"
        assert mapping["Properties"]["ApiId"] == _live_import(env, service, "HttpApiId")


@pytest.mark.parametrize("stage", COMPUTE_STAGES)
@pytest.mark.parametrize("service", HTTP_SERVICES)
def test_every_stage_exports_its_http_api_under_the_name_the_router_imports(service: str, stage: str) -> None:
    outputs = template(service, stage)["Outputs"]
    assert outputs["HttpApiId"]["Export"]["Name"] == f"airline-{service}-{stage}-HttpApiId"
    assert outputs["HttpApiUrl"]["Export"]["Name"] == f"airline-{service}-{stage}-HttpApiUrl"
    assert outputs["HttpApiUrl"]["Value"] == {"Fn::GetAtt": ["HttpApi", "ApiEndpoint"]}


@pytest.mark.parametrize("stage", COMPUTE_STAGES)
@pytest.mark.parametrize("service", ONE_COLOUR_SERVICES)
def test_consumers_and_schedules_of_a_colour_run_only_while_it_is_live(service: str, stage: str) -> None:
    tpl = template(service, stage)
    mappings = resources_of_type(tpl, "AWS::Lambda::EventSourceMapping")
    schedules = {
        k: r for k, r in resources_of_type(tpl, "AWS::Events::Rule").items() if "ScheduleExpression" in r["Properties"]
    }
    colour = COLOUR_STAGES.get(stage)
    if colour is None:  # a stage without a colour is its environment's only compute: always on
        assert "LiveColour" not in (tpl.get("Parameters") or {})
        assert all(m["Properties"].get("Enabled", True) is True for m in mappings.values())
        return
    parameter = tpl["Parameters"]["LiveColour"]
    assert parameter == {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": "/airline-prod/live-colour",
        "Description": parameter["Description"],
    }
    assert tpl["Conditions"]["IsLiveColour"] == {"Fn::Equals": [{"Ref": "LiveColour"}, colour]}
    for mapping in mappings.values():
        assert mapping["Properties"]["Enabled"] == {"Fn::If": ["IsLiveColour", True, False]}
    for rule in schedules.values():
        assert rule["Properties"]["State"] == {"Fn::If": ["IsLiveColour", "ENABLED", "DISABLED"]}
    assert mappings or schedules, f"{service}/{stage}: nothing runs in one colour only"


def test_the_reconciler_runs_in_both_colours_and_reads_no_live_colour() -> None:
    # it drives only the bookings its own colour's workflows started: the old colour's stalled
    # sagas must still end after a promotion
    for stage in COLOUR_STAGES:
        tpl = template("booking", stage)
        rules = resources_of_type(tpl, "AWS::Events::Rule").values()
        assert [r["Properties"].get("State", "ENABLED") for r in rules] == ["ENABLED"]
        assert "LiveColour" not in (tpl.get("Parameters") or {})


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_data_contract_is_the_platforms_key_schemas_and_the_event_schema_version(env: str) -> None:
    declared = yaml.safe_load((ROOT / "services/common/blue-green.yml").read_text())["contract"]
    assert declared["eventSchemaVersion"] == SCHEMA_VERSION
    tables = {}
    for resource in resources_of_type(template(PLATFORM, env), "AWS::DynamoDB::Table").values():
        props = resource["Properties"]
        keys = sorted(props["KeySchema"], key=lambda k: k["KeyType"] != "HASH")
        tables[props["TableName"].removeprefix(f"airline-{env}-")] = ",".join(k["AttributeName"] for k in keys)
    assert declared["tables"] == tables


@pytest.mark.parametrize("stage", COMPUTE_STAGES)
def test_every_compute_stack_outputs_the_data_contract(stage: str) -> None:
    declared = yaml.safe_load((ROOT / "services/common/blue-green.yml").read_text())["contract"]
    for service in ("autoscaling", "booking", "catalog", "loyalty", "payment"):
        assert json.loads(template(service, stage)["Outputs"]["DataContract"]["Value"]) == declared
