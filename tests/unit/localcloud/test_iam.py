"""IAM enforced: the policy evaluator, and functions that call AWS with their own role on a local cloud."""

from __future__ import annotations

import json
import os
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from localcloud import ACCOUNT, REGION
from localcloud.cloud import LocalCloud
from localcloud.deploy import FAKE_CREDENTIALS, TEMPLATE
from localcloud.iam import evaluate

pytestmark = pytest.mark.xdist_group("localcloud")

TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234"
VIA_DYNAMODB = {"kms:ViaService": [f"dynamodb.{REGION}.amazonaws.com"], "kms:CallerAccount": [ACCOUNT]}


# -- the evaluator ---------------------------------------------------------------------------------
def test_wildcards_in_actions_and_resources_allow() -> None:
    statements = [{"Effect": "Allow", "Action": "dynamodb:*Item", "Resource": f"arn:aws:dynamodb:*:{ACCOUNT}:table/o*"}]
    assert evaluate(statements, "dynamodb:PutItem", TABLE_ARN, {}) == "Allow"
    assert evaluate(statements, "DynamoDB:getitem", TABLE_ARN, {}) == "Allow"  # actions ignore case
    assert evaluate(statements, "dynamodb:Query", TABLE_ARN, {}) == "ImplicitDeny"
    assert evaluate(statements, "dynamodb:PutItem", TABLE_ARN.replace("orders", "users"), {}) == "ImplicitDeny"


def test_an_explicit_deny_wins_over_any_allow() -> None:
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": ["dynamodb:DeleteItem"], "Resource": TABLE_ARN},
    ]
    assert evaluate(statements, "dynamodb:DeleteItem", TABLE_ARN, {}) == "Deny"
    assert evaluate(statements, "dynamodb:PutItem", TABLE_ARN, {}) == "Allow"


def test_not_action_and_not_resource() -> None:
    statements = [{"Effect": "Allow", "NotAction": "iam:*", "NotResource": TABLE_ARN}]
    assert evaluate(statements, "sqs:SendMessage", "arn:aws:sqs:eu-west-1:1:q", {}) == "Allow"
    assert evaluate(statements, "iam:PassRole", "arn:aws:iam::1:role/r", {}) == "ImplicitDeny"
    assert evaluate(statements, "dynamodb:PutItem", TABLE_ARN, {}) == "ImplicitDeny"


def test_kms_via_service_condition_is_evaluated() -> None:
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": KEY_ARN,
            "Condition": {"StringEquals": {"kms:ViaService": f"dynamodb.{REGION}.amazonaws.com"}},
        }
    ]
    assert evaluate(statements, "kms:Decrypt", KEY_ARN, VIA_DYNAMODB) == "Allow"
    via_sqs = {"kms:ViaService": [f"sqs.{REGION}.amazonaws.com"]}
    assert evaluate(statements, "kms:Decrypt", KEY_ARN, via_sqs) == "ImplicitDeny"
    assert evaluate(statements, "kms:Decrypt", KEY_ARN, {}) == "ImplicitDeny"  # a direct call: no ViaService


def test_negated_and_if_exists_operators_with_a_missing_key() -> None:
    deny_unless_via: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "kms:*", "Resource": "*", "Condition": {"Null": {"kms:ViaService": "true"}}},
        {
            "Effect": "Deny",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringNotLikeIfExists": {"kms:ViaService": "dynamodb.*"}},
        },
    ]
    assert evaluate(deny_unless_via, "kms:Decrypt", KEY_ARN, VIA_DYNAMODB) == "Allow"
    assert evaluate(deny_unless_via, "kms:Decrypt", KEY_ARN, {"kms:ViaService": ["sqs.x"]}) == "Deny"
    assert evaluate(deny_unless_via, "kms:Encrypt", KEY_ARN, {}) == "Deny"  # Null: a direct call


def test_condition_keys_the_local_cloud_does_not_supply_are_counted_and_assumed_to_hold() -> None:
    statements = [
        {
            "Effect": "Allow",
            "Action": "autoscaling:SetDesiredCapacity",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/airline:tier": "hybrid"}},
        }
    ]
    unevaluated: Counter[str] = Counter()
    assert evaluate(statements, "autoscaling:SetDesiredCapacity", "*", {}, unevaluated) == "Allow"
    assert unevaluated == Counter({"aws:ResourceTag/airline:tier": 1})


# -- functions with their own role on a local cloud ---------------------------------------------------
CODE = """
import json, os
import boto3

def handler(event, context):
    op = event["op"]
    if op == "put":
        boto3.client("dynamodb").put_item(TableName=os.environ["TABLE"], Item={"pk": {"S": event["id"]}})
    elif op == "get":
        boto3.client("dynamodb").get_item(TableName=os.environ["TABLE"], Key={"pk": {"S": event["id"]}})
    elif op == "publish":
        boto3.client("sns").publish(TopicArn=os.environ["TOPIC"], Message="m")
    elif op == "send":
        boto3.client("sqs").send_message(QueueUrl=os.environ["QUEUE"], MessageBody="m")
    elif op == "invoke":
        boto3.client("lambda").invoke(FunctionName=os.environ["OTHER"], Payload=b"{}")
    elif op == "whoami":
        return boto3.client("sts").get_caller_identity()["Arn"]
    return "done"
"""


def _role(statements: list[dict[str, Any]]) -> dict[str, Any]:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    policy = {"PolicyName": "fn", "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}
    return {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust, "Policies": [policy]}}


def _function(name: str, role: str) -> dict[str, Any]:
    variables = {
        "TABLE": {"Ref": "Table"},
        "TOPIC": {"Ref": "Topic"},
        "QUEUE": {"Ref": "Queue"},
        "OTHER": "iam-unit-full",
    }
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "FunctionName": name,
            "Handler": "app.handler",
            "Role": {"Fn::GetAtt": [role, "Arn"]},
            "Code": {"S3Bucket": "b", "S3Key": "fn.zip"},
            "Timeout": 20,
            "Environment": {"Variables": variables},
        },
    }


def _stack(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / "fn.zip", "w") as zipped:
        zipped.writestr("app.py", CODE)
    table_arn = {"Fn::GetAtt": ["Table", "Arn"]}
    key_arn = {"Fn::GetAtt": ["Key", "Arn"]}
    via = {"StringEquals": {"kms:ViaService": {"Fn::Sub": "dynamodb.${AWS::Region}.amazonaws.com"}}}
    template: dict[str, Any] = {
        "Resources": {
            "Key": {"Type": "AWS::KMS::Key", "Properties": {"Description": "platform"}},
            "Table": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "TableName": "iam-unit-orders",
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "Key"}},
                },
            },
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "iam-unit-topic"}},
            "Queue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {"QueueName": "iam-unit-queue", "KmsMasterKeyId": {"Ref": "Key"}},
            },
            "FullRole": _role(
                [
                    {"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:GetItem"], "Resource": table_arn},
                    {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn, "Condition": via},
                ]
            ),
            "NoKeyRole": _role([{"Effect": "Allow", "Action": "dynamodb:*", "Resource": table_arn}]),
            "PutOnlyRole": _role(
                [
                    {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": table_arn},
                    {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn, "Condition": via},
                ]
            ),
            "Full": _function("iam-unit-full", "FullRole"),
            "NoKey": _function("iam-unit-nokey", "NoKeyRole"),
            "PutOnly": _function("iam-unit-putonly", "PutOnlyRole"),
        },
    }
    (folder / TEMPLATE).write_text(json.dumps(template))
    return folder


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    saved = os.environ.get("MOTO_PORT")
    with LocalCloud(edge_port=None, schedules=False) as running:
        running.deploy_stack("iamunit", _stack(tmp_path_factory.mktemp("iamunit")))
        yield running
    if saved is None:
        os.environ.pop("MOTO_PORT", None)
    else:
        os.environ["MOTO_PORT"] = saved


def _call(cloud: LocalCloud, function: str, **event: str) -> tuple[str | None, Any]:
    invocation = cloud.invoke_event(function, event)
    return invocation.function_error, invocation.json()


def test_roles_are_realized_and_each_function_runs_as_its_own_role(cloud: LocalCloud) -> None:
    assert cloud.deployment.not_emulated()["AWS::IAM::Role"] == 0
    error, arn = _call(cloud, "iam-unit-putonly", op="whoami")
    assert error is None
    assert ":assumed-role/" in arn
    assert arn.endswith("/iam-unit-putonly")


def test_what_the_role_allows_works(cloud: LocalCloud) -> None:
    assert _call(cloud, "iam-unit-full", op="put", id="a") == (None, "done")
    assert _call(cloud, "iam-unit-full", op="get", id="a") == (None, "done")


def test_a_missing_action_fails_as_on_aws(cloud: LocalCloud) -> None:
    error, answer = _call(cloud, "iam-unit-putonly", op="get", id="a")
    assert error == "Unhandled"
    assert answer["errorType"] == "ClientError"
    assert "(AccessDeniedException)" in answer["errorMessage"]
    assert "is not authorized to perform: dynamodb:GetItem" in answer["errorMessage"]


def test_an_encrypted_table_needs_the_key_through_dynamodb(cloud: LocalCloud) -> None:
    error, answer = _call(cloud, "iam-unit-nokey", op="put", id="b")
    assert error == "Unhandled"
    assert "(AccessDeniedException)" in answer["errorMessage"]
    assert "KMS key access denied error" in answer["errorMessage"]
    assert "kms:Decrypt" in answer["errorMessage"]


def test_sns_sqs_and_lambda_refuse_with_their_own_errors(cloud: LocalCloud) -> None:
    for op, code in (("publish", "(AuthorizationError)"), ("send", "(AccessDenied)"), ("invoke", "(AccessDenied")):
        error, answer = _call(cloud, "iam-unit-putonly", op=op)
        assert error == "Unhandled", op
        assert code in answer["errorMessage"], answer
    assert cloud.access.refused["sns:Publish"] >= 1


def _root(cloud: LocalCloud, service: str) -> Any:
    return boto3.client(service, endpoint_url=cloud.edge.url, region_name=REGION, **FAKE_CREDENTIALS)


def test_the_account_s_own_credentials_are_not_restricted(cloud: LocalCloud) -> None:
    sqs = _root(cloud, "sqs")
    url = sqs.get_queue_url(QueueName="iam-unit-queue")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="root")


def test_an_sqs_queue_under_the_key_needs_kms_for_sends(cloud: LocalCloud) -> None:
    iam, sts = _root(cloud, "iam"), _root(cloud, "sts")
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:iam-unit-queue"
    iam.create_role(RoleName="iam-unit-sender", AssumeRolePolicyDocument="{}")
    iam.put_role_policy(
        RoleName="iam-unit-sender",
        PolicyName="send",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": queue_arn}]}
        ),
    )
    keys = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/iam-unit-sender", RoleSessionName="sender")[
        "Credentials"
    ]
    sender = boto3.client(
        "sqs",
        endpoint_url=cloud.edge.url,
        region_name=REGION,
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
    )
    url = sender.get_queue_url(QueueName="iam-unit-queue")["QueueUrl"]
    with pytest.raises(ClientError, match=r"\(KmsAccessDenied\)"):
        sender.send_message(QueueUrl=url, MessageBody="m")
