"""The template resolver on small hand-written templates."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.cloud import deploy_order
from localcloud.resolver import ResolveError, Resolver, creation_order, references

TEMPLATE: dict[str, Any] = {
    "Parameters": {"Env": {"Type": "String", "Default": "local"}, "Tier": {"Type": "String", "Default": "false"}},
    "Conditions": {
        "IsLocal": {"Fn::Equals": [{"Ref": "Env"}, "local"]},
        "HasTier": {"Fn::Equals": [{"Ref": "Tier"}, "true"]},
        "LocalWithoutTier": {"Fn::And": [{"Condition": "IsLocal"}, {"Fn::Not": [{"Condition": "HasTier"}]}]},
        "Either": {"Fn::Or": [{"Condition": "HasTier"}, {"Condition": "IsLocal"}]},
    },
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"RedrivePolicy": {"target": {"Fn::GetAtt": "Dlq.Arn"}}}},
        "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Fn": {"Type": "AWS::Lambda::Function", "DependsOn": "Role", "Properties": {"Env": {"Fn::Sub": "${Queue}"}}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"Name": {"Fn::Sub": ["${X}", {"X": {"Ref": "Dlq"}}]}}},
    },
}


def resolver(exports: dict[str, Any] | None = None) -> Resolver:
    r = Resolver(TEMPLATE, stack_name="s-local", region="eu-west-1", account="123456789012", exports=exports or {})
    r.set_resource("Queue", "https://q/queue", {"Arn": "arn:aws:sqs:eu-west-1:123456789012:queue"})
    r.set_resource("Dlq", "https://q/dlq", {"Arn": "arn:aws:sqs:eu-west-1:123456789012:dlq"})
    return r


def test_ref_of_resources_parameters_and_pseudo_parameters() -> None:
    r = resolver()
    assert r.resolve({"Ref": "Queue"}) == "https://q/queue"
    assert r.resolve({"Ref": "Env"}) == "local"
    assert r.resolve({"Ref": "AWS::Region"}) == "eu-west-1"
    assert r.resolve({"Ref": "AWS::AccountId"}) == "123456789012"
    assert r.resolve({"Ref": "AWS::StackName"}) == "s-local"


def test_get_att_in_both_forms() -> None:
    r = resolver()
    assert r.resolve({"Fn::GetAtt": ["Dlq", "Arn"]}) == "arn:aws:sqs:eu-west-1:123456789012:dlq"
    assert r.resolve({"Fn::GetAtt": "Queue.Arn"}) == "arn:aws:sqs:eu-west-1:123456789012:queue"


def test_sub_with_pseudo_parameters_attributes_variables_and_escapes() -> None:
    r = resolver()
    text = "arn:${AWS::Partition}:x:${AWS::Region}:${AWS::AccountId}:${Queue.Arn}/${Env}/${!Literal}"
    assert r.resolve({"Fn::Sub": text}) == (
        "arn:aws:x:eu-west-1:123456789012:arn:aws:sqs:eu-west-1:123456789012:queue/local/${Literal}"
    )
    assert r.resolve({"Fn::Sub": ["${A}-${Dlq}", {"A": {"Ref": "Env"}}]}) == "local-https://q/dlq"


def test_join_select_split_and_import_value() -> None:
    r = resolver({"airline-local-TopicArn": "arn:topic"})
    assert r.resolve({"Fn::Join": ["/", ["integrations", {"Ref": "Env"}]]}) == "integrations/local"
    assert r.resolve({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}) == "b"
    assert r.resolve({"Fn::ImportValue": {"Fn::Sub": "airline-${Env}-TopicArn"}}) == "arn:topic"


def test_conditions_and_if_with_no_value() -> None:
    r = resolver()
    assert r.condition("IsLocal") is True
    assert r.condition("HasTier") is False
    assert r.condition("LocalWithoutTier") is True
    assert r.condition("Either") is True
    assert r.resolve({"Fn::If": ["HasTier", "yes", "no"]}) == "no"
    resolved = r.resolve(
        {"A": {"Fn::If": ["HasTier", "x", {"Ref": "AWS::NoValue"}]}, "B": [1, {"Ref": "AWS::NoValue"}]}
    )
    assert resolved == {"B": [1]}


def test_parameters_given_win_over_defaults() -> None:
    r = Resolver(TEMPLATE, stack_name="s", region="r", account="1", parameters={"Tier": "true"})
    assert r.condition("HasTier") is True


@pytest.mark.parametrize(
    "value",
    [{"Ref": "Nope"}, {"Fn::GetAtt": ["Queue", "Nope"]}, {"Fn::ImportValue": "missing"}, {"Fn::Sub": "${Nope}"}],
)
def test_what_cannot_be_resolved_is_an_error(value: dict[str, Any]) -> None:
    with pytest.raises(ResolveError):
        resolver().resolve(value)


def test_references_and_creation_order() -> None:
    assert references({"Fn::Sub": ["${A}-${B.Arn}-${AWS::Region}", {"A": {"Ref": "C"}}]}) == {"B", "C"}
    order = creation_order(TEMPLATE)
    assert order.index("Dlq") < order.index("Queue") < order.index("Fn")
    assert order.index("Role") < order.index("Fn")
    assert order.index("Dlq") < order.index("Role")


def test_circular_references_are_refused() -> None:
    template = {"Resources": {"A": {"Type": "T", "DependsOn": "B"}, "B": {"Type": "T", "DependsOn": "A"}}}
    with pytest.raises(ResolveError, match="circular"):
        creation_order(template)


def test_stacks_deploy_after_the_stacks_they_import_from() -> None:
    def exporting(*names: str) -> dict[str, Any]:
        return {"Outputs": {n: {"Value": "v", "Export": {"Name": n}} for n in names}, "Resources": {}}

    templates = {
        "platform": exporting("airline-local-X"),
        "booking": {"Resources": {"R": {"Properties": {"A": {"Fn::ImportValue": "catalog-Y"}}}}},
        "catalog": {**exporting("catalog-Y"), "Resources": {"R": {"P": {"Fn::ImportValue": "airline-local-X"}}}},
        "autoscaling": {"Resources": {}},
    }
    assert deploy_order(templates) == ["platform", "autoscaling", "catalog", "booking"]
