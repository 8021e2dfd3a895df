"""Deploy of small hand-written templates onto an in-process local cloud (free ports)."""

from __future__ import annotations

import json
import os
import socket
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from localcloud.edge import Edge, EdgeError

pytestmark = pytest.mark.xdist_group("localcloud")

CODE = """
import json, os
import boto3

def handler(event, context):
    table = os.environ["TABLE"]
    boto3.client("dynamodb").put_item(TableName=table, Item={"pk": {"S": event.get("id", "x")}})
    return {"version": VERSION, "seen": event}

VERSION = "%s"
"""


def _stack(folder: Path, version: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / "fn.zip", "w") as zipped:
        zipped.writestr("app.py", CODE % version)
    definition = {
        "StartAt": "Call",
        "States": {"Call": {"Type": "Task", "Resource": "${FnArn}", "End": True}},
    }
    template: dict[str, Any] = {
        "Parameters": {"Mode": {"Type": "String", "Default": "on"}},
        "Conditions": {"On": {"Fn::Equals": [{"Ref": "Mode"}, "on"]}, "Off": {"Fn::Not": [{"Condition": "On"}]}},
        "Resources": {
            "Key": {"Type": "AWS::KMS::Key", "Properties": {"Description": "k"}},
            "Table": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "TableName": {"Fn::Sub": "${AWS::StackName}-items"},
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
                    "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
                    "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "Key"}},
                },
            },
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "unit-topic"}},
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "unit-queue"}},
            "Sub": {
                "Type": "AWS::SNS::Subscription",
                "Properties": {
                    "TopicArn": {"Ref": "Topic"},
                    "Protocol": "sqs",
                    "Endpoint": {"Fn::GetAtt": ["Queue", "Arn"]},
                    "RawMessageDelivery": True,
                    "FilterPolicy": {"kind": ["wanted"]},
                },
            },
            "Param": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": "/unit/p", "Type": "String", "Value": {"Ref": "Table"}},
            },
            "Skipped": {"Type": "AWS::SQS::Queue", "Condition": "Off", "Properties": {"QueueName": "never"}},
            "Dashboard": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {}},
            "StreamMapping": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "EventSourceArn": {"Fn::GetAtt": ["Table", "StreamArn"]},
                    "FunctionName": {"Ref": "Fn"},
                },
            },
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": "unit-fn",
                    "Handler": "app.handler",
                    "Code": {"S3Bucket": "b", "S3Key": "fn.zip"},
                    "Environment": {"Variables": {"TABLE": {"Ref": "Table"}}},
                },
            },
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineName": "unit-machine",
                    "DefinitionString": {"Fn::Sub": [json.dumps(definition), {"FnArn": {"Fn::GetAtt": ["Fn", "Arn"]}}]},
                    "RoleArn": {"Fn::GetAtt": ["MachineRole", "Arn"]},
                },
            },
            "Unallowed": {  # the same task under a role that may not invoke it
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineName": "unit-unallowed",
                    "DefinitionString": {"Fn::Sub": [json.dumps(definition), {"FnArn": {"Fn::GetAtt": ["Fn", "Arn"]}}]},
                    "RoleArn": {"Fn::GetAtt": ["BareRole", "Arn"]},
                },
            },
            "BareRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "states.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                },
            },
            "MachineRole": {  # Step Functions invokes the task with this role's credentials
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "states.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    },
                    "Policies": [
                        {
                            "PolicyName": "invoke",
                            "PolicyDocument": {
                                "Version": "2012-10-17",
                                "Statement": [
                                    {
                                        "Effect": "Allow",
                                        "Action": "lambda:InvokeFunction",
                                        "Resource": {"Fn::GetAtt": ["Fn", "Arn"]},
                                    }
                                ],
                            },
                        }
                    ],
                },
            },
        },
        "Outputs": {"TableName": {"Value": {"Ref": "Table"}, "Export": {"Name": "unit-TableName"}}},
    }
    (folder / "cloudformation-template-update-stack.json").write_text(json.dumps(template))
    return folder


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    saved = os.environ.get("MOTO_PORT")
    with LocalCloud(edge_port=None, schedules=False) as running:
        yield running
    if saved is None:
        os.environ.pop("MOTO_PORT", None)
    else:
        os.environ["MOTO_PORT"] = saved


def test_deploys_resources_reports_the_rest_and_updates_in_place(cloud: LocalCloud, tmp_path: Path) -> None:
    result = cloud.deploy_stack("unit", _stack(tmp_path / "v1", "one"))
    assert result.not_emulated == {
        "AWS::CloudWatch::Dashboard": 1,
        "AWS::Lambda::EventSourceMapping (non-SQS source)": 1,
    }
    assert result.exports == {"unit-TableName": "airline-unit-local-items"}
    dynamodb, sqs, sns = (cloud.deployer.client(s) for s in ("dynamodb", "sqs", "sns"))
    table = dynamodb.describe_table(TableName="airline-unit-local-items")["Table"]
    assert table["StreamSpecification"]["StreamEnabled"] is True
    assert table["SSEDescription"]["Status"] == "ENABLED"
    ttl = dynamodb.describe_time_to_live(TableName="airline-unit-local-items")["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "ttl"
    assert (
        cloud.deployer.client("ssm").get_parameter(Name="/unit/p")["Parameter"]["Value"] == "airline-unit-local-items"
    )
    assert "never" not in json.dumps(sqs.list_queues())

    # SNS -> SQS with the filter policy and raw delivery
    topic = sns.list_topics()["Topics"][0]["TopicArn"]
    sns.publish(TopicArn=topic, Message="skip", MessageAttributes={"kind": {"DataType": "String", "StringValue": "x"}})
    sns.publish(
        TopicArn=topic, Message="take", MessageAttributes={"kind": {"DataType": "String", "StringValue": "wanted"}}
    )
    queue = sqs.get_queue_url(QueueName="unit-queue")["QueueUrl"]
    bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])]
    assert bodies == ["take"]

    # Step Functions -> Lambda Invoke API on the edge -> the runner -> the handler -> DynamoDB on the edge
    sfn = cloud.deployer.client("stepfunctions")
    machines = {m["name"]: m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}

    def run(machine: str, name: str) -> dict[str, Any]:
        execution = sfn.start_execution(stateMachineArn=machine, name=name, input='{"id": "from-sfn"}')["executionArn"]
        deadline = time.monotonic() + 60
        while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        found: dict[str, Any] = described
        return found

    described = run(machines["unit-machine"], "e1")
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"version": "one", "seen": {"id": "from-sfn"}}
    # the task is invoked with the state machine's role: one without lambda:InvokeFunction is refused
    refused = run(machines["unit-unallowed"], "e2")
    assert (refused["status"], refused["error"]) == ("FAILED", "Lambda.AccessDeniedException")

    # re-deploy with changed code: the function reloads, the table keeps its items
    second = cloud.deploy_stack("unit", _stack(tmp_path / "v2", "two"))
    assert second.kept["AWS::DynamoDB::Table"] == 1
    assert cloud.invoke_event("unit-fn", {"id": "after"}).json()["version"] == "two"
    keys = {i["pk"]["S"] for i in dynamodb.scan(TableName="airline-unit-local-items")["Items"]}
    assert keys == {"from-sfn", "after"}


def test_a_busy_port_is_refused_with_a_clear_message() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(EdgeError, match="busy"):
            Edge(busy.getsockname()[1]).start()


def test_starting_twice_in_one_process_is_refused(cloud: LocalCloud) -> None:
    with pytest.raises(EdgeError, match="already running"):
        Edge(0).start()
