"""Colour stages on the local cloud: a colour's API at its own prefix, the live colour at the public
paths, parameters given to a deploy and SSM-typed parameters read at each deploy."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from localcloud.authorizer import JwksCache
from localcloud.cloud import LocalCloud
from localcloud.cloudformation import CloudFormationError
from localcloud.gateway import Gateway, HttpApi, Route
from localcloud.runner import Invocation


def _answer(arn: str, event: dict[str, Any]) -> Invocation:
    return Invocation(
        json.dumps({"statusCode": 200, "body": json.dumps({"arn": arn, "path": event["rawPath"]})}).encode()
    )


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway(_answer, JwksCache("http://127.0.0.1:1"))
    for key in ("booking", "local-blue/booking", "local-green/booking"):
        api = HttpApi(key, key.replace("/", "-"))
        api.routes.append(Route("GET", "/bookings/{id}", f"fn:{key}", None, "GET /bookings/{id}"))
        gw.set_api(api)
    gw.start()
    yield gw
    gw.stop()


def _served_by(gw: Gateway, path: str) -> tuple[str, str]:
    body = requests.get(gw.url + path, timeout=10).json()
    return body["arn"], body["path"]


def test_each_colour_answers_at_its_own_prefix_and_the_live_one_at_the_public_path(gateway: Gateway) -> None:
    assert _served_by(gateway, "/booking/bookings/1") == ("fn:booking", "/bookings/1")
    assert _served_by(gateway, "/local-green/booking/bookings/1") == ("fn:local-green/booking", "/bookings/1")
    gateway.set_live({"booking": "local-green/booking"})
    assert _served_by(gateway, "/booking/bookings/2") == ("fn:local-green/booking", "/bookings/2")
    assert _served_by(gateway, "/local-blue/booking/bookings/2") == ("fn:local-blue/booking", "/bookings/2")
    gateway.set_live({})
    assert _served_by(gateway, "/booking/bookings/3") == ("fn:booking", "/bookings/3")
    assert requests.get(gateway.url + "/local-red/booking/bookings/3", timeout=10).status_code == 404


TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Colour": {"Type": "String", "AllowedValues": ["blue", "green"], "Default": "blue"},
        "Live": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/unit/live-colour"},
    },
    "Conditions": {"IsLive": {"Fn::Equals": [{"Ref": "Live"}, {"Ref": "Colour"}]}},
    "Resources": {
        "Record": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {
                "Name": {"Fn::Sub": "/unit/${Colour}/is-live"},
                "Type": "String",
                "Value": {"Fn::If": ["IsLive", "yes", "no"]},
            },
        }
    },
    "Outputs": {"Live": {"Value": {"Ref": "Live"}}},
}


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[LocalCloud]:
    (tmp_path / "cloudformation-template-update-stack.json").write_text(json.dumps(TEMPLATE))
    saved = os.environ.get("MOTO_PORT")
    with LocalCloud(edge_port=None, schedules=False) as running:
        yield running
    if saved is None:
        os.environ.pop("MOTO_PORT", None)
    else:
        os.environ["MOTO_PORT"] = saved


def test_a_deploy_takes_parameters_and_reads_ssm_typed_ones_at_each_deploy(cloud: LocalCloud, tmp_path: Path) -> None:
    ssm = cloud.deployer.client("ssm")
    # Given no SSM parameter yet: said as not emulated (AWS fails the deploy), the name stays the value
    first = cloud.deploy_stack("unit", tmp_path, "local-green", {"Colour": "green"})
    assert first.not_emulated == {"AWS::SSM::Parameter::Value (missing /unit/live-colour)": 1}
    assert ssm.get_parameter(Name="/unit/green/is-live")["Parameter"]["Value"] == "no"
    # When the live colour is recorded and the stack deployed again, the new value is read
    ssm.put_parameter(Name="/unit/live-colour", Value="green", Type="String")
    again = cloud.deploy_stack("unit", tmp_path, "local-green", {"Colour": "green"})
    assert again.parameters == {"Colour": "green", "Live": "green"}
    assert ssm.get_parameter(Name="/unit/green/is-live")["Parameter"]["Value"] == "yes"
    described = cloud.deployer.client("cloudformation").describe_stacks(StackName="airline-unit-local-green")
    assert described["Stacks"][0]["Outputs"][0]["OutputValue"] == "green"
    # A value outside AllowedValues, or a parameter the template lacks, is refused as CloudFormation does
    with pytest.raises(CloudFormationError, match="AllowedValues"):
        cloud.deploy_stack("unit", tmp_path, "local-green", {"Colour": "red"})
    with pytest.raises(CloudFormationError, match="do not exist"):
        cloud.deploy_stack("unit", tmp_path, "local-green", {"Nope": "x"})
