"""CloudFormation on the edge (localcloud.cloudformation) through boto3, on an in-process local cloud:
change sets, events, outputs and exports, CloudFormation's validation errors, rollback of a resource the
local cloud cannot realize, Lambda's code update and the function logs in CloudWatch Logs."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from localcloud.cloud import LocalCloud

pytestmark = pytest.mark.xdist_group("localcloud")

BUCKET = "unit-deployments"
CODE = 'VERSION = "%s"\n\ndef handler(event, context):\n    print("handled", event.get("id"))\n    return VERSION\n'


def _zip(version: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        # A fixed time: a name alone stamps the clock's (2 s steps), and the same code must give the same bytes
        zipped.writestr(zipfile.ZipInfo("app.py", date_time=(2026, 1, 1, 0, 0, 0)), CODE % version)
    return buffer.getvalue()


def _function(name: str, key: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "FunctionName": name,
            "Handler": "app.handler",
            "Runtime": "python3.13",
            "Code": {"S3Bucket": BUCKET, "S3Key": key},
        },
    }


def _template(first_key: str, second_key: str, *, export: bool = True) -> dict[str, Any]:
    template: dict[str, Any] = {
        "Resources": {
            "Table": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "TableName": "cfn-unit-items",
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                },
            },
            "First": _function("cfn-unit-first", first_key),
            "Second": _function("cfn-unit-second", second_key),
            "Board": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {"DashboardBody": "{}"}},
        },
        "Outputs": {"TableName": {"Value": {"Ref": "Table"}, "Description": "the table"}},
    }
    if export:
        template["Outputs"]["TableName"]["Export"] = {"Name": "cfn-unit-TableName"}
    return template


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    saved = os.environ.get("MOTO_PORT")
    with LocalCloud(edge_port=None, schedules=False) as running:
        s3 = running.deployer.client("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        for version in ("one", "two"):
            s3.put_object(Bucket=BUCKET, Key=f"{version}/first.zip", Body=_zip(version))
            s3.put_object(Bucket=BUCKET, Key=f"{version}/second.zip", Body=_zip("same"))
        yield running
    if saved is None:
        os.environ.pop("MOTO_PORT", None)
    else:
        os.environ["MOTO_PORT"] = saved


def _client(cloud: LocalCloud, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=cloud.edge.url,
        region_name="eu-west-1",
        aws_access_key_id="unit",
        aws_secret_access_key="unit",  # noqa: S106 - the local cloud's account
    )


def _change_set(cfn: Any, stack: str, name: str, template: dict[str, Any], kind: str) -> dict[str, Any]:
    cfn.create_change_set(
        StackName=stack,
        ChangeSetName=name,
        ChangeSetType=kind,
        TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_IAM"],
    )
    described: dict[str, Any] = cfn.describe_change_set(StackName=stack, ChangeSetName=name)
    return described


def _events(cfn: Any, stack: str) -> list[tuple[str, str, str]]:
    events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason", "")) for e in reversed(events)]


def test_change_sets_create_then_update_only_what_changed(cloud: LocalCloud) -> None:
    cfn = _client(cloud, "cloudformation")
    created = _change_set(cfn, "cfn-unit", "c1", _template("one/first.zip", "one/second.zip"), "CREATE")
    assert created["Status"] == "CREATE_COMPLETE"
    assert {c["ResourceChange"]["Action"] for c in created["Changes"]} == {"Add"}
    cfn.execute_change_set(StackName="cfn-unit", ChangeSetName="c1")

    stack = cfn.describe_stacks(StackName="cfn-unit")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Outputs"] == [
        {
            "OutputKey": "TableName",
            "OutputValue": "cfn-unit-items",
            "Description": "the table",
            "ExportName": "cfn-unit-TableName",
        }
    ]
    assert {"Name": "cfn-unit-TableName", "Value": "cfn-unit-items", "ExportingStackId": stack["StackId"]} in (
        cfn.list_exports()["Exports"]
    )
    events = _events(cfn, "cfn-unit")
    assert events[0][:2] == ("cfn-unit", "REVIEW_IN_PROGRESS")
    assert events[-1][:2] == ("cfn-unit", "CREATE_COMPLETE")
    board = [reason for lid, status, reason in events if lid == "Board" and status == "CREATE_COMPLETE"]
    assert board == ["Not emulated locally: AWS::CloudWatch::Dashboard; a stand-in id only, nothing runs it"]
    resource = cfn.describe_stack_resource(StackName="cfn-unit", LogicalResourceId="First")["StackResourceDetail"]
    assert resource["PhysicalResourceId"] == "cfn-unit-first"
    assert cloud.invoke_event("cfn-unit-first", {}).json() == "one"

    # a new deploy: both zips moved to new keys (as `sls deploy` uploads), only the first one's code changed
    second_root = cloud.runner.functions["cfn-unit-second"].root
    updated = _change_set(cfn, "cfn-unit", "c2", _template("two/first.zip", "two/second.zip"), "UPDATE")
    assert sorted(c["ResourceChange"]["LogicalResourceId"] for c in updated["Changes"]) == ["First", "Second"]
    cfn.execute_change_set(StackName="cfn-unit", ChangeSetName="c2")
    assert cfn.describe_stacks(StackName="cfn-unit")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert cloud.invoke_event("cfn-unit-first", {}).json() == "two"
    assert cloud.runner.functions["cfn-unit-second"].root == second_root  # same code: not reloaded
    touched = {lid for lid, _, _ in _events(cfn, "cfn-unit")[len(events) :]}
    assert touched == {"cfn-unit", "First", "Second"}  # the table and the dashboard were not touched

    # the same template again: no changes, as CloudFormation says it
    same = _change_set(cfn, "cfn-unit", "c3", _template("two/first.zip", "two/second.zip"), "UPDATE")
    assert (same["Status"], same["ExecutionStatus"]) == ("FAILED", "UNAVAILABLE")
    assert "didn't contain changes" in same["StatusReason"]
    with pytest.raises(ClientError, match="No updates are to be performed"):
        cfn.update_stack(StackName="cfn-unit", TemplateBody=json.dumps(_template("two/first.zip", "two/second.zip")))


def test_an_export_in_use_keeps_its_stack(cloud: LocalCloud) -> None:
    cfn = _client(cloud, "cloudformation")
    if "cfn-unit" not in cloud.cloudformation.stacks:
        cfn.create_stack(
            StackName="cfn-unit",
            TemplateBody=json.dumps(_template("one/first.zip", "one/second.zip")),
            Capabilities=["CAPABILITY_IAM"],
        )
    importer = {
        "Resources": {
            "Param": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Type": "String", "Value": {"Fn::ImportValue": "cfn-unit-TableName"}},
            }
        }
    }
    cfn.create_stack(StackName="cfn-importer", TemplateBody=json.dumps(importer))
    assert cfn.list_imports(ExportName="cfn-unit-TableName")["Imports"] == ["cfn-importer"]

    cfn.delete_stack(StackName="cfn-unit")
    refused = cfn.describe_stacks(StackName="cfn-unit")["Stacks"][0]
    assert refused["StackStatus"] == "DELETE_FAILED"
    assert refused["StackStatusReason"] == "Export cfn-unit-TableName cannot be deleted as it is in use by cfn-importer"
    assert cloud.deployer.client("dynamodb").describe_table(TableName="cfn-unit-items")
    with pytest.raises(ClientError, match="Cannot delete export cfn-unit-TableName as it is in use by cfn-importer"):
        cfn.update_stack(
            StackName="cfn-unit",
            TemplateBody=json.dumps(_template("one/first.zip", "one/second.zip", export=False)),
            Capabilities=["CAPABILITY_IAM"],
        )

    cfn.delete_stack(StackName="cfn-importer")
    cfn.delete_stack(StackName="cfn-unit")
    with pytest.raises(ClientError, match="Stack with id cfn-unit does not exist"):
        cfn.describe_stacks(StackName="cfn-unit")
    assert "cfn-unit-first" not in cloud.runner.names()
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        cloud.deployer.client("dynamodb").describe_table(TableName="cfn-unit-items")


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{not json", "Template format error: JSON not well-formed."),
        ('{"Resources": {}}', "Template format error: At least one Resources member must be defined."),
        (
            json.dumps({"Resources": {"T": {"Type": "AWS::SNS::Topic", "Properties": {"Name": {"Ref": "Nope"}}}}}),
            "Template format error: Unresolved resource dependencies [Nope] in the Resources block of the template",
        ),
        (
            json.dumps({"Resources": {"T": {"Type": "AWS::Nothing"}}}),
            "Template format error: Unrecognized resource types: [AWS::Nothing]",
        ),
        (
            json.dumps(
                {
                    "Resources": {
                        "A": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Ref": "B"}}},
                        "B": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Fn::GetAtt": ["A", "Arn"]}}},
                    }
                }
            ),
            "Circular dependency between resources: [A, B]",
        ),
        (json.dumps({"Resources": {"T": {"Properties": {}}}}), "Every Resources object must contain a Type member"),
    ],
)
def test_templates_cloudformation_rejects_are_rejected_with_its_message(
    cloud: LocalCloud, template: str, message: str
) -> None:
    cfn = _client(cloud, "cloudformation")
    for call in (cfn.validate_template, lambda **kw: cfn.create_stack(StackName="cfn-bad", **kw)):
        with pytest.raises(ClientError) as raised:
            call(TemplateBody=template)
        assert raised.value.response["Error"]["Code"] == "ValidationError"
        assert message in raised.value.response["Error"]["Message"]
    assert "cfn-bad" not in cloud.cloudformation.stacks


def test_iam_resources_need_the_capability(cloud: LocalCloud) -> None:
    cfn = _client(cloud, "cloudformation")
    role = {"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}}}}
    with pytest.raises(
        ClientError, match=r"InsufficientCapabilitiesException.*Requires capabilities : \[CAPABILITY_IAM\]"
    ):
        cfn.create_stack(StackName="cfn-role", TemplateBody=json.dumps(role))


def test_a_resource_the_local_cloud_cannot_realize_fails_named_and_rolls_back(cloud: LocalCloud) -> None:
    cfn = _client(cloud, "cloudformation")
    template = _template("one/first.zip", "one/second.zip", export=False)
    template["Resources"]["Hook"] = {
        "Type": "Custom::Seed",
        "DependsOn": "Table",
        "Properties": {"ServiceToken": {"Fn::GetAtt": ["First", "Arn"]}},
    }
    cfn.create_stack(StackName="cfn-custom", TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"])
    stack = cfn.describe_stacks(StackName="cfn-custom")["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [(lid, reason) for lid, status, reason in _events(cfn, "cfn-custom") if status == "CREATE_FAILED"]
    assert failed == [("Hook", "custom resources are not realized by the local cloud")]
    rollback = [reason for lid, status, reason in _events(cfn, "cfn-custom") if status == "ROLLBACK_IN_PROGRESS"]
    assert rollback == ["The following resource(s) failed to create: [Hook]. Rollback requested by user."]
    with pytest.raises(ClientError, match="ResourceNotFoundException"):  # rolled back: the table went
        cloud.deployer.client("dynamodb").describe_table(TableName="cfn-unit-items")
    cfn.delete_stack(StackName="cfn-custom")


def test_update_function_code_is_served_and_logs_reach_cloudwatch_logs(cloud: LocalCloud) -> None:
    cfn = _client(cloud, "cloudformation")
    cfn.create_stack(
        StackName="cfn-code",
        TemplateBody=json.dumps(_template("one/first.zip", "one/second.zip", export=False)),
        Capabilities=["CAPABILITY_IAM"],
    )
    lam = _client(cloud, "lambda")
    configuration = lam.update_function_code(FunctionName="cfn-unit-first", ZipFile=_zip("patched"))
    assert configuration["LastUpdateStatus"] == "Successful"
    assert lam.get_function(FunctionName="cfn-unit-first")["Configuration"]["CodeSha256"] == configuration["CodeSha256"]
    answer = lam.invoke(FunctionName="cfn-unit-first", Payload=b'{"id": "marker-42"}')
    assert json.loads(answer["Payload"].read()) == "patched"

    cloud.function_logs.flush()
    logs = _client(cloud, "logs")
    group = "/aws/lambda/cfn-unit-first"
    streams = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]]
    assert streams
    assert all(s.startswith(time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime())) for s in streams)
    messages = [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
    start = messages.index("handled marker-42") - 1
    assert [m.split(" ")[0] for m in messages[start : start + 4]] == ["START", "handled", "END", "REPORT"]
    assert "Max Memory Used:" in messages[start + 3]
    cfn.delete_stack(StackName="cfn-code")
