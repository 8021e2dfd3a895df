"""The AWS target against moto's CloudFormation (in-process): the same calls it makes on AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bluegreen.targets import AwsTarget

ROUTER: dict[str, Any] = {
    "Parameters": {
        "LiveColour": {"Type": "String", "AllowedValues": ["none", "blue", "green"], "Default": "none"},
        "PromotedBy": {"Type": "String", "Default": "first deploy"},
    },
    "Resources": {
        "LiveColourParameter": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {
                "Name": "/airline-dev/live-colour",
                "Type": "String",
                "Value": {"Ref": "LiveColour"},
                "Description": {"Fn::Sub": "by ${PromotedBy}"},
            },
        }
    },
    "Outputs": {"LiveColour": {"Value": {"Ref": "LiveColour"}}},
}
COLOUR: dict[str, Any] = {
    "Parameters": {"LiveColour": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/airline-dev/live-colour"}},
    "Resources": {"Marker": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "marker"}}},
    "Outputs": {"SeenLiveColour": {"Value": {"Ref": "LiveColour"}}},
}


@pytest.fixture
def target() -> Iterator[AwsTarget]:
    with mock_aws():
        session = boto3.Session(region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")  # noqa: S106 - moto
        session.client("cloudformation").create_stack(StackName="airline-router-dev", TemplateBody=json.dumps(ROUTER))
        yield AwsTarget("dev", session)


def test_the_router_is_updated_through_cloudformation_and_its_record_says_who(target: AwsTarget) -> None:
    assert target.stack("airline-booking-dev-green") is None
    updated = target.deploy_router({"LiveColour": "green", "PromotedBy": "release-manager"})
    assert updated.parameters == {"LiveColour": "green", "PromotedBy": "release-manager"}
    assert updated.outputs["LiveColour"] == "green"
    ssm = target.session.client("ssm")
    record = ssm.get_parameter(Name="/airline-dev/live-colour")["Parameter"]
    assert record["Value"] == "green"
    assert any("by release-manager" in line for line in target.history())
    assert target.caller().startswith("arn:aws:")


def _seen_live_colour(cloudformation: Any, name: str) -> str:
    (parameter,) = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["Parameters"]
    return str(parameter.get("ResolvedValue", parameter["ParameterValue"]))  # AWS: ResolvedValue; moto: the value


def test_a_refresh_keeps_the_template_and_resolves_the_live_colour_again(target: AwsTarget) -> None:
    cloudformation = target.session.client("cloudformation")
    cloudformation.create_stack(StackName="airline-loyalty-dev-green", TemplateBody=json.dumps(COLOUR))
    stack = target.stack("airline-loyalty-dev-green")
    assert stack is not None
    assert stack.one_colour_only
    assert _seen_live_colour(cloudformation, stack.name) == "none"
    target.deploy_router({"LiveColour": "green", "PromotedBy": "release-manager"})
    target.refresh(stack)
    assert _seen_live_colour(cloudformation, stack.name) == "green"
    body = cloudformation.get_template(StackName=stack.name)["TemplateBody"]  # boto3 parses a JSON body
    assert (json.loads(body) if isinstance(body, str) else body) == COLOUR
